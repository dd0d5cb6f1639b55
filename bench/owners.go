package bench

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leadflow/leadflow/store"
)

// Failover is the kill -9 of one worker of a fleet step: how long until
// every partition it owned was owned (locked) by another worker.
type Failover struct {
	Killed string `json:"killed"`
	// Partitions the killed worker owned.
	Partitions int     `json:"partitions"`
	Seconds    float64 `json:"seconds"`
	// Owners: partitions per surviving worker afterwards.
	Owners map[string]int `json:"owners"`
	OK     bool           `json:"ok"` // within TargetFailover
	Error  string         `json:"error,omitempty"`
}

// pidOfIdentity reads the process id out of a worker identity
// ("leadflow:<pid>@<host>/<deployment>", see worker.Identity).
func pidOfIdentity(identity string) int {
	rest, ok := strings.CutPrefix(identity, "leadflow:")
	if !ok {
		return 0
	}
	i := strings.IndexByte(rest, '@')
	if i < 0 {
		return 0
	}
	pid, err := strconv.Atoi(rest[:i])
	if err != nil {
		return 0
	}
	return pid
}

// ownership counts the partitions whose lock each worker holds now, by
// worker name; unowned counts the others.
func (r *runner) ownership(ctx context.Context) (owned map[string]int, unowned int, err error) {
	rows, err := (&store.Store{Pool: r.st.pool}).PartitionOwners(ctx)
	if err != nil {
		return nil, 0, err
	}
	byPID := map[int]string{}
	for _, w := range r.st.workers {
		if w.alive() {
			byPID[w.pid()] = w.name
		}
	}
	owned = map[string]int{}
	for _, w := range r.st.workers {
		if w.alive() {
			owned[w.name] = 0
		}
	}
	held := 0
	for _, o := range rows {
		if !o.Held {
			continue
		}
		held++
		name, ok := byPID[pidOfIdentity(o.Owner)]
		if !ok {
			name = o.Owner
		}
		owned[name]++
	}
	return owned, store.Partitions - held, nil
}

// waitSpread waits until every partition is owned and every live worker
// owns some (the balance of partitions), up to timeout.
func (r *runner) waitSpread(ctx context.Context, timeout time.Duration) (map[string]int, error) {
	deadline := time.Now().Add(timeout)
	for {
		owned, unowned, err := r.ownership(ctx)
		if err != nil {
			return nil, err
		}
		spread := unowned == 0
		for _, n := range owned {
			spread = spread && n > 0
		}
		if spread {
			return owned, nil
		}
		if time.Now().After(deadline) {
			return owned, fmt.Errorf("after %s, %d partitions unowned and not every worker owns some: %v", timeout, unowned, owned)
		}
		select {
		case <-ctx.Done():
			return owned, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// failover kills the last worker (kill -9) and measures how long until
// every partition is owned by a live worker.
func (r *runner) failover(ctx context.Context) (*Failover, error) {
	if len(r.st.workers) < 2 {
		return nil, nil
	}
	before, _, err := r.ownership(ctx)
	if err != nil {
		return nil, err
	}
	victim := r.st.workers[len(r.st.workers)-1]
	f := &Failover{Killed: victim.name, Partitions: before[victim.name]}
	r.logf("failover: kill -9 %s (owning %d partitions)", victim.name, f.Partitions)
	start := time.Now()
	victim.kill()
	deadline := start.Add(3 * TargetFailover)
	for {
		owned, unowned, err := r.ownership(ctx)
		if err == nil && unowned == 0 {
			f.Seconds = time.Since(start).Seconds()
			f.Owners = owned
			break
		}
		if time.Now().After(deadline) {
			f.Seconds = time.Since(start).Seconds()
			f.Owners = owned
			f.Error = fmt.Sprintf("%d partitions still unowned after %.0fs", unowned, f.Seconds)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.OK = f.Error == "" && f.Seconds <= TargetFailover.Seconds()
	r.logf("failover: every partition owned again after %.1fs: %v", f.Seconds, f.Owners)
	return f, nil
}
