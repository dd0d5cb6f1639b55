package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/worker"
)

// ownerWorker is one more worker of the stack's task queue, as a separate
// worker process would be: its own activities, partition owners and lock
// connection.
type ownerWorker struct {
	w      sdkworker.Worker
	owners *activities.PartitionOwners
	acts   *activities.Activities
}

func (st *stack) ownerActivities(poll time.Duration) *activities.Activities {
	return &activities.Activities{
		Engine: engine.New(st.Store, "", st.log), Store: st.Store, Client: st.Client,
		TaskQueue: st.TaskQueue, Log: st.log, Deployment: st.Deployment, OwnerPoll: poll,
	}
}

func (st *stack) startOwnerWorker(poll time.Duration) *ownerWorker {
	st.t.Helper()
	acts := st.ownerActivities(poll)
	w := worker.New(st.Client, st.TaskQueue, acts, sdkworker.Options{Identity: worker.Identity(st.Deployment.ID)})
	require.NoError(st.t, w.Start())
	ow := &ownerWorker{w: w, owners: acts.Owners, acts: acts}
	st.t.Cleanup(ow.stop)
	return ow
}

func (ow *ownerWorker) stop() {
	if ow.w != nil {
		ow.w.Stop()
		ow.w = nil
	}
}

// waitOwned waits until the workers together own every partition and each
// owns at least one, and returns what each owns.
func waitOwned(t *testing.T, timeout time.Duration, workers ...*ownerWorker) [][]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var owned [][]int
	for time.Now().Before(deadline) {
		owned = owned[:0]
		total, everyone := 0, true
		for _, w := range workers {
			o := w.owners.Owned()
			owned = append(owned, o)
			total += len(o)
			everyone = everyone && len(o) > 0
		}
		if total == store.Partitions && everyone {
			return owned
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("partitions not owned by every worker within %s: %v", timeout, owned)
	return nil
}

const pageModel = `{"kind": "score_model", "id": "m", "name": "M", "engagement": [{"id": "p", "on": {"type": "page_visited"}, "points": 1}]}`

// An event inserted straight into the log (no API, no Temporal signal) is
// applied within well under a second: the insert's NOTIFY wakes its owner,
// whose own poll is a minute away.
func TestOwnerWokenByNotify(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.stopWorker()
	st.publish([]byte(pageModel))
	ow := st.startOwnerWorker(time.Minute)
	require.NoError(t, worker.EnsurePartitions(context.Background(), st.Client, st.TaskQueue, st.Deployment.ID))
	waitOwned(t, 20*time.Second, ow)
	time.Sleep(300 * time.Millisecond) // every owner has run its first batch and sleeps

	var worst time.Duration
	for i, id := range []string{"nia", "noe", "nyx"} {
		start := time.Now()
		_, _, err := st.Store.InsertEvents(context.Background(), []store.EventRow{{
			ID: "n" + id, ContactID: id, Type: "page_visited", Properties: map[string]any{"url": "/"}, OccurredAt: start}})
		require.NoError(t, err)
		for {
			if c, code := st.contact(id); code == 200 && c.Scores["m"].Score == 1 {
				break
			}
			require.Less(t, time.Since(start), 5*time.Second, "event %d not applied", i)
			time.Sleep(5 * time.Millisecond)
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("insert → score (through the API's read), worst of 3: %s", worst)
	require.Less(t, worst, time.Second)
}

// The advisory lock keeps a second owner of a partition out while the
// first holds it; once the first lets go, the second takes it.
func TestOwnerLockKeepsSecondOwnerOut(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.stopWorker()
	st.publish([]byte(pageModel))
	first, second := st.ownerActivities(time.Minute), st.ownerActivities(time.Minute)
	first.Owners = activities.NewPartitionOwners(st.Store, nil, "first", st.log)
	second.Owners = activities.NewPartitionOwners(st.Store, nil, "second", st.log)
	first.Owners.Start()
	defer first.Owners.Stop()
	second.Owners.Start()
	defer second.Owners.Stop()

	const p = 5
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := first.OwnPartition(ctx, contract.OwnInput{Partition: p})
		done <- err
	}()
	require.Eventually(t, func() bool { return len(first.Owners.Owned()) == 1 }, 10*time.Second, 10*time.Millisecond)

	_, err := second.OwnPartition(context.Background(), contract.OwnInput{Partition: p})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, contract.ErrPartitionBusy, appErr.Type())
	require.Contains(t, err.Error(), "locked by another owner")
	// The same worker does not take it twice either.
	_, err = first.OwnPartition(context.Background(), contract.OwnInput{Partition: p})
	require.ErrorContains(t, err, "still owned by an earlier owner in this worker")

	// (The stack's own worker owned the partitions before it stopped.)
	ownerOf := func() store.PartitionOwnerRow {
		owners, err := st.Store.PartitionOwners(context.Background())
		require.NoError(t, err)
		for _, o := range owners {
			if o.Partition == p {
				return o
			}
		}
		t.Fatalf("partition %d has no owner: %v", p, owners)
		return store.PartitionOwnerRow{}
	}
	require.Eventually(t, func() bool { return ownerOf().Owner == "first" }, 10*time.Second, 10*time.Millisecond) // claimed
	o := ownerOf()
	require.True(t, o.Held)

	cancel() // the first owner's worker stops
	require.ErrorIs(t, <-done, context.Canceled)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { _, _ = second.OwnPartition(ctx2, contract.OwnInput{Partition: p}) }()
	require.Eventually(t, func() bool { return ownerOf().Owner == "second" }, 10*time.Second, 10*time.Millisecond)
	next := ownerOf()
	require.Equal(t, o.Epoch+1, next.Epoch)
	require.True(t, next.Held)
}

// Two workers share the partitions (one that joins later gets some); when
// one stops, the other owns every partition within 10 s and applies the
// events of the partitions it took over.
func TestOwnersShareAndTakeOver(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.stopWorker()
	st.publish([]byte(pageModel))
	a := st.startOwnerWorker(time.Second)
	require.NoError(t, worker.EnsurePartitions(context.Background(), st.Client, st.TaskQueue, st.Deployment.ID))
	waitOwned(t, 20*time.Second, a)
	b := st.startOwnerWorker(time.Second)
	owned := waitOwned(t, 30*time.Second, a, b)
	t.Logf("after b joined: a owns %v, b owns %v", owned[0], owned[1])

	// Contacts in a's partitions.
	var ids []string
	mine := map[int]bool{}
	for _, p := range owned[0] {
		mine[p] = true
	}
	for i := 0; len(ids) < 5; i++ {
		id := "t" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if mine[store.PartitionOf(id)] {
			ids = append(ids, id)
		}
	}
	stopped := time.Now()
	a.stop()
	for _, id := range ids {
		st.send(ev("e-"+id, "page_visited", id, map[string]any{"url": "/"}))
	}
	require.Eventually(t, func() bool { return len(b.owners.Owned()) == store.Partitions }, 10*time.Second, 20*time.Millisecond,
		"b owns %v", b.owners.Owned())
	t.Logf("b owns every partition %s after a stopped", time.Since(stopped).Round(time.Millisecond))
	for _, id := range ids {
		st.eventually(id, 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 1 })
	}
	st.settled()
}

// A due change (points expiring) is applied at its time by the owner's
// timer, not by its poll (a minute away) nor by any event.
func TestOwnerDueTimerFires(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.stopWorker()
	st.publish([]byte(`{"kind": "score_model", "id": "x", "name": "X", "decay": {"expire_after": "2s"},
 "engagement": [{"id": "open", "on": {"type": "email_opened"}, "points": 7}]}`))
	ow := st.startOwnerWorker(time.Minute)
	require.NoError(t, worker.EnsurePartitions(context.Background(), st.Client, st.TaskQueue, st.Deployment.ID))
	waitOwned(t, 20*time.Second, ow)
	st.send(ev("o1", "email_opened", "dua", nil))
	st.eventually("dua", 5*time.Second, func(c contact) bool { return c.Scores["x"].Score == 7 })
	granted := time.Now()
	st.eventually("dua", 10*time.Second, func(c contact) bool { return c.Scores["x"].Score == 0 })
	late := time.Since(granted)
	t.Logf("points gone %s after they were seen", late.Round(time.Millisecond))
	require.Less(t, late, 4*time.Second)
}
