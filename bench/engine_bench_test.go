package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// BenchmarkEngineApply measures the engine's transactional apply alone — no
// HTTP, no Temporal, no outbox dispatch: the bench's uniform event mix over
// 2,000 contacts, appended with store.InsertEvents and applied by
// engine.ApplyPartition (batches of up to 500) over the 16 partitions in
// turn, on the shipped definitions. It is what the engine could do if
// Temporal cost nothing; with -cpuprofile it profiles the apply path:
//
//	go test ./bench -run '^$' -bench EngineApply -benchtime 20000x -cpuprofile /tmp/engine.pprof
func BenchmarkEngineApply(b *testing.B) {
	ctx := context.Background()
	s := storetest.NewStore(b)
	if _, err := engine.PublishShipped(ctx, s); err != nil {
		b.Fatal(err)
	}
	eng := engine.New(s, "", zerolog.Nop())
	w := NewWorkload("e-", 2000, 1)
	rows := func(evs []Event) []store.EventRow {
		out := make([]store.EventRow, len(evs))
		now := time.Now()
		for i, e := range evs {
			r := store.EventRow{ID: e.ID, ContactID: e.ContactID, Type: e.Type, Properties: e.Properties, OccurredAt: now}
			if e.IsIdentify() {
				r.Traits = e.Traits
				if e.Email != "" {
					email := e.Email
					r.Email = &email
				}
			}
			out[i] = r
		}
		return out
	}
	insert := func(evs []Event) {
		for len(evs) > 0 {
			n := min(len(evs), 1000)
			if _, _, err := s.InsertEvents(ctx, rows(evs[:n])); err != nil {
				b.Fatal(err)
			}
			evs = evs[n:]
		}
	}
	applyAll := func() {
		for {
			applied := 0
			for p := 0; p < store.Partitions; p++ {
				res, err := eng.ApplyPartition(ctx, p, time.Now(), 500)
				if err != nil {
					b.Fatal(err)
				}
				applied += res.Events
			}
			if applied == 0 {
				return
			}
		}
	}
	var contacts []Event
	for i := range w.Contacts {
		contacts = append(contacts, w.Contacts[i].IdentifyEvent(fmt.Sprintf("%scontact-%06d", w.Prefix, i)))
	}
	insert(contacts)
	applyAll()
	insert(w.NewStream("u", DistUniform, 1).Take(b.N))
	b.ResetTimer()
	start := time.Now()
	applyAll()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
