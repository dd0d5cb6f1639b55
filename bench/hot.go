package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// The hot-contact scenario (leadflow bench --hot) measures what one very
// active contact costs: a contact with HotEvents page visits to the pricing
// page in the last 29 days — all of them counted by a filtered segment rule
// ("3 pricing visits in 30 days") and a filtered frequency rule — against a
// quiet contact with QuietEvents, in the same database and run. It drives
// the engine's transactional apply directly (no HTTP, no Temporal), one
// event per transaction, alternating hot and quiet, so the figures are the
// per-event apply time of each contact.

// HotConfig configures the hot-contact scenario.
type HotConfig struct {
	DatabaseURL string // a database on the server; Database is created next to it
	Database    string // created for the run (dropped first) and dropped after
	HotEvents   int    // events of the hot contact in the window (default 100,000)
	QuietEvents int    // events of the quiet contact (default 100)
	Samples     int    // measured events per contact (default 50)
	Keep        bool   // leave the database for inspection
	Log         io.Writer
}

// HotResult is what the hot-contact scenario measured.
type HotResult struct {
	HotEvents    int         `json:"hot_events"`
	QuietEvents  int         `json:"quiet_events"`
	BuildSeconds float64     `json:"build_seconds"` // applying the hot contact's history, in batches
	Hot          Percentiles `json:"hot_apply"`     // one event of the hot contact, one transaction
	Quiet        Percentiles `json:"quiet_apply"`   // one event of the quiet contact
	HotSegment   bool        `json:"hot_in_segment"`
	HotScore     float64     `json:"hot_score"`
}

// Print writes the figures.
func (r *HotResult) Print(w io.Writer) {
	fmt.Fprintf(w, "hot contact: %d events in the window (history applied in %.1fs)\n", r.HotEvents, r.BuildSeconds)
	fmt.Fprintf(w, "  per-event apply, hot   (%d events): p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.Hot.N, r.Hot.P50, r.Hot.P90, r.Hot.P99, r.Hot.Max)
	fmt.Fprintf(w, "  per-event apply, quiet (%d events): p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", r.Quiet.N, r.Quiet.P50, r.Quiet.P90, r.Quiet.P99, r.Quiet.Max)
	if r.Quiet.P50 > 0 {
		fmt.Fprintf(w, "  hot / quiet (p50): %.2fx\n", r.Hot.P50/r.Quiet.P50)
	}
}

// hotDefinitions count pricing-page visits with filters, so that every
// event of the hot contact is one they count.
const hotDefinitions = `[
 {"kind": "segment", "id": "bench-pricing-fans", "name": "3 pricing visits in 30 days",
  "rule": {"events": {"type": "page_visited", "filters": [{"property": "url", "op": "contains", "value": "/pricing"}],
           "within": "30d", "op": "gte", "count": 3}}},
 {"kind": "score_model", "id": "bench-pricing", "name": "Pricing interest",
  "engagement": [
   {"id": "pricing-visit", "on": {"type": "page_visited", "url": "*/pricing*"}, "points": 1, "cap": {"points": 20, "period": "1d"}},
   {"id": "third-pricing-visit", "on": {"type": "page_visited", "url": "*/pricing*"}, "points": 10,
    "frequency": {"count": 3, "within": "30d"}}]}
]`

// RunHot runs the hot-contact scenario in a database of its own.
func RunHot(ctx context.Context, cfg HotConfig) (*HotResult, error) {
	if cfg.Database == "" {
		cfg.Database = "leadflow_bench_hot"
	}
	if err := recreateDatabase(ctx, cfg.DatabaseURL, cfg.Database); err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer func() { _ = dropDatabases(context.Background(), cfg.DatabaseURL, cfg.Database) }()
	}
	u, err := withDatabase(cfg.DatabaseURL, cfg.Database)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, u, false)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("error migrating the hot-contact database: %w", err)
	}
	return MeasureHot(ctx, s, cfg)
}

// MeasureHot runs the hot-contact scenario on a migrated, empty store.
func MeasureHot(ctx context.Context, s *store.Store, cfg HotConfig) (*HotResult, error) {
	if cfg.HotEvents <= 0 {
		cfg.HotEvents = 100_000
	}
	if cfg.QuietEvents <= 0 {
		cfg.QuietEvents = 100
	}
	if cfg.Samples <= 0 {
		cfg.Samples = 50
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if _, err := engine.PublishShipped(ctx, s); err != nil {
		return nil, err
	}
	docs, errs := flows.DecodeAndValidate("bench-hot.json", []byte(hotDefinitions), nil)
	if len(errs) > 0 {
		return nil, fmt.Errorf("the hot-contact definitions are invalid: %w", errs)
	}
	if _, err := engine.Publish(ctx, s, docs); err != nil {
		return nil, err
	}
	eng := engine.New(s, "", zerolog.Nop())
	const hot, quiet = "bench-hot-contact", "bench-quiet-contact"
	now := time.Now()
	visit := func(contact string, i int, at time.Time) store.EventRow {
		return store.EventRow{ID: fmt.Sprintf("%s-e%07d", contact, i), ContactID: contact, Type: flows.TriggerPageVisited,
			Properties: map[string]any{"url": fmt.Sprintf("https://example.com/pricing?plan=%d", i%4), "referrer": "https://example.com/"},
			OccurredAt: at}
	}
	apply := func(partition int) (int, error) {
		total := 0
		for {
			res, err := eng.ApplyPartition(ctx, partition, time.Now(), 500)
			if err != nil {
				return total, err
			}
			total += res.Events
			if !res.More {
				return total, nil
			}
		}
	}
	// history spreads n visits over the last 29 days, oldest first, and
	// applies them in batches as the partition workflow would.
	history := func(contact string, n int) error {
		span := 29 * 24 * time.Hour
		for i := 0; i < n; {
			var rows []store.EventRow
			for ; i < n && len(rows) < 1000; i++ {
				rows = append(rows, visit(contact, i, now.Add(-span+time.Duration(int64(span)/int64(n)*int64(i)))))
			}
			if _, _, err := s.InsertEvents(ctx, rows); err != nil {
				return err
			}
			if _, err := apply(store.PartitionOf(contact)); err != nil {
				return fmt.Errorf("error applying the history of %s: %w", contact, err)
			}
			if i%10_000 == 0 {
				logf("  %s: %d/%d events applied", contact, i, n)
			}
		}
		return nil
	}
	res := &HotResult{HotEvents: cfg.HotEvents, QuietEvents: cfg.QuietEvents}
	logf("hot contact: applying %d events of history", cfg.HotEvents)
	start := time.Now()
	if err := history(hot, cfg.HotEvents); err != nil {
		return nil, err
	}
	res.BuildSeconds = time.Since(start).Seconds()
	if err := history(quiet, cfg.QuietEvents); err != nil {
		return nil, err
	}
	logf("measuring %d events of each contact, one transaction each, alternating", cfg.Samples)
	one := func(contact string, i int) (time.Duration, error) {
		if _, _, err := s.InsertEvents(ctx, []store.EventRow{visit(contact, i, time.Now())}); err != nil {
			return 0, err
		}
		t0 := time.Now()
		n, err := apply(store.PartitionOf(contact))
		d := time.Since(t0)
		if err == nil && n != 1 {
			err = fmt.Errorf("applied %d events of %s, want 1", n, contact)
		}
		return d, err
	}
	var hotTimes, quietTimes []time.Duration
	for k := 0; k < cfg.Samples; k++ {
		d, err := one(hot, cfg.HotEvents+k)
		if err != nil {
			return nil, err
		}
		hotTimes = append(hotTimes, d)
		if d, err = one(quiet, cfg.QuietEvents+k); err != nil {
			return nil, err
		}
		quietTimes = append(quietTimes, d)
	}
	res.Hot, res.Quiet = percentilesOf(hotTimes), percentilesOf(quietTimes)
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		st, err := store.LoadStates(ctx, tx, []string{hot}, store.ActivityQuery{}, store.CapQuery{})
		if err != nil {
			return err
		}
		_, res.HotSegment = st[hot].Segments["bench-pricing-fans"]
		if sc := st[hot].Scores["bench-pricing"]; sc != nil {
			res.HotScore = sc.Score
		}
		return nil
	})
	return res, err
}
