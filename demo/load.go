package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// Loaded is what Load wrote.
type Loaded struct {
	Events      int
	Contacts    int
	Conversions int
}

// Load publishes the demo model and applies events day by day with the
// engine, its clock set to the end of each simulated day, so that contacts'
// creation, the ledger and the conversions carry the history's times. It
// writes to the database directly: run it with no worker applying events
// on that database (a fresh one, then leadflow dev on it).
func Load(ctx context.Context, s *store.Store, e *engine.Engine, events []Event, progress func(day int, applied int)) (Loaded, error) {
	var res Loaded
	docs, errs := flows.Decode("demo/model.json", ModelJSON)
	if len(errs) == 0 {
		errs = flows.Validate("demo/model.json", docs, nil)
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("the demo model is invalid: %v", errs)
	}
	if _, err := engine.Publish(ctx, s, docs); err != nil {
		return res, fmt.Errorf("error publishing the demo model: %w", err)
	}
	contacts := map[string]bool{}
	day := 0
	for i := 0; i < len(events); {
		dayEnd := events[i].At.Truncate(24 * time.Hour).Add(24*time.Hour - time.Second)
		var batch []store.EventRow
		for i < len(events) && !events[i].At.After(dayEnd) {
			batch = append(batch, events[i].Row)
			contacts[events[i].Row.ContactID] = true
			if events[i].Row.Type == "deal_won" {
				res.Conversions++
			}
			i++
		}
		_, partitions, err := s.InsertEvents(ctx, batch)
		if err != nil {
			return res, fmt.Errorf("error inserting the demo events of %s: %w", dayEnd.Format(time.DateOnly), err)
		}
		for _, p := range partitions {
			for {
				r, err := e.ApplyPartition(ctx, p, dayEnd, 500)
				if err != nil {
					return res, fmt.Errorf("error applying the demo events of %s (partition %d): %w", dayEnd.Format(time.DateOnly), p, err)
				}
				if !r.More {
					break
				}
			}
		}
		res.Events += len(batch)
		day++
		if progress != nil {
			progress(day, res.Events)
		}
	}
	res.Contacts = len(contacts)
	return res, nil
}
