package worker

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/store"
)

// Waker wakes partition owners through PostgreSQL (NOTIFY on the channel
// their workers LISTEN on). Inserted events wake their partitions by
// themselves (the events table's trigger, at commit); the API uses a Waker
// for other work: a quarantined event released, a delivery retried by hand.
// A lost wake-up only delays the work until the owner's poll.
type Waker struct {
	store *store.Store
	log   zerolog.Logger
}

// NewWaker returns a Waker notifying through s.
func NewWaker(s *store.Store, log zerolog.Logger) *Waker {
	return &Waker{store: s, log: log}
}

// Wake asks the owners of the given partitions to look for work.
func (w *Waker) Wake(ctx context.Context, partitions []int) {
	var ps []int
	for _, p := range partitions {
		if p >= 0 && p < store.Partitions {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return
	}
	if err := w.store.NotifyPartitions(ctx, ps); err != nil {
		w.log.Warn().Err(err).Ints("partitions", ps).Msg("could not wake partitions; their owners will find the work when they poll")
	}
}
