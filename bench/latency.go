package bench

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// latencyWatch measures, for a sample of events, the time from the API's
// acknowledgement to the moment the event's application is visible in
// PostgreSQL (applied_at set by a committed transaction): it polls the
// sampled ids every 10 ms, so a latency is known to about 10 ms.
type latencyWatch struct {
	pool    *pgxpool.Pool
	every   int
	mu      sync.Mutex
	n       int
	pending map[string]time.Time
	lat     []time.Duration
}

func newLatencyWatch(pool *pgxpool.Pool, every int) *latencyWatch {
	return &latencyWatch{pool: pool, every: max(every, 1), pending: map[string]time.Time{}}
}

func (w *latencyWatch) acked(evs []Event, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range evs {
		w.n++
		if w.n%w.every == 0 {
			w.pending[e.ID] = at
		}
	}
}

// run polls until ctx ends.
func (w *latencyWatch) run(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.poll(ctx)
	}
}

func (w *latencyWatch) poll(ctx context.Context) {
	w.mu.Lock()
	ids := make([]string, 0, len(w.pending))
	for id := range w.pending {
		ids = append(ids, id)
		if len(ids) >= 5000 {
			break
		}
	}
	w.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	seen := time.Now()
	rows, err := w.pool.Query(ctx, `SELECT id FROM events WHERE id = ANY($1) AND applied_at IS NOT NULL`, ids)
	if err != nil {
		return
	}
	var done []string
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			done = append(done, id)
		}
	}
	rows.Close()
	w.mu.Lock()
	for _, id := range done {
		if ack, ok := w.pending[id]; ok {
			w.lat = append(w.lat, max(seen.Sub(ack), 0))
			delete(w.pending, id)
		}
	}
	w.mu.Unlock()
}

// waitDone polls until every sampled event is seen, or timeout.
func (w *latencyWatch) waitDone(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		w.poll(ctx)
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *latencyWatch) percentiles() Percentiles {
	w.mu.Lock()
	defer w.mu.Unlock()
	return percentilesOf(w.lat)
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func percentilesOf(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		i = min(max(i, 0), len(s)-1)
		return float64(s[i].Microseconds()) / 1000
	}
	return Percentiles{N: len(s), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: q(1)}
}
