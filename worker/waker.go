package worker

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/leadflow/leadflow/store"
)

// Waker wakes partition workflows after events are committed. Wake never
// blocks on Temporal: each partition has one sender, and wake-ups that
// arrive while a signal is in flight are coalesced into one more signal. A
// lost wake-up only delays events until the partition's own timer.
type Waker struct {
	client    client.Client
	taskQueue string
	deploy    string
	log       zerolog.Logger
	mu        sync.Mutex
	pending   [store.Partitions]bool
	sending   [store.Partitions]bool
}

// NewWaker returns a Waker signalling through c; the partition workflows it
// starts carry the deployment id.
func NewWaker(c client.Client, taskQueue, deployment string, log zerolog.Logger) *Waker {
	return &Waker{client: c, taskQueue: taskQueue, deploy: deployment, log: log}
}

// Wake asks the given partitions to apply their pending events.
func (w *Waker) Wake(_ context.Context, partitions []int) {
	for _, p := range partitions {
		if p < 0 || p >= store.Partitions {
			continue
		}
		w.mu.Lock()
		if w.sending[p] {
			w.pending[p] = true
			w.mu.Unlock()
			continue
		}
		w.sending[p] = true
		w.mu.Unlock()
		go w.send(p)
	}
}

func (w *Waker) send(p int) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := wake(ctx, w.client, w.taskQueue, w.deploy, p); err != nil {
			w.log.Warn().Err(err).Int("partition", p).Msg("could not wake partition; it will look for work on its timer")
		}
		cancel()
		w.mu.Lock()
		if !w.pending[p] {
			w.sending[p] = false
			w.mu.Unlock()
			return
		}
		w.pending[p] = false
		w.mu.Unlock()
	}
}
