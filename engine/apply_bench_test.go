package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// BenchmarkApplyShipped applies a realistic mix of events to contacts under
// the shipped definitions, through the engine alone (no Temporal): the cost
// of the transactional apply per event.
//
//	go test ./engine -run '^$' -bench ApplyShipped -benchtime 20000x
func BenchmarkApplyShipped(b *testing.B) {
	ctx := context.Background()
	s := storetest.NewStore(b)
	if _, err := engine.PublishShipped(ctx, s); err != nil {
		b.Fatal(err)
	}
	eng := engine.New(s, "", zerolog.Nop())
	rng := rand.New(rand.NewPCG(1, 2))
	types := []struct {
		typ   string
		props map[string]any
	}{
		{"page_visited", map[string]any{"url": "https://example.com/pricing"}},
		{"page_visited", map[string]any{"url": "https://example.com/blog/x"}},
		{"email_opened", map[string]any{"campaign": "nurture"}},
		{"email_clicked", map[string]any{"campaign": "nurture"}},
		{"task_created", nil},
		{"video_played", nil},
	}
	now := time.Now()
	events := make([]store.EventRow, b.N)
	for i := range events {
		t := types[rng.IntN(len(types))]
		events[i] = store.EventRow{ID: fmt.Sprintf("e%d", i), ContactID: fmt.Sprintf("c%d", rng.IntN(1000)), Type: t.typ, Properties: t.props, OccurredAt: now}
	}
	for i := 0; i < len(events); i += 1000 {
		if _, _, err := s.InsertEvents(ctx, events[i:min(i+1000, len(events))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for p := 0; p < store.Partitions; p++ {
		for {
			res, err := eng.ApplyPartition(ctx, p, time.Now(), 500)
			if err != nil {
				b.Fatal(err)
			}
			if !res.More {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
