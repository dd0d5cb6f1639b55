package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitionChannel is the NOTIFY channel that says a partition has new
// work; the payload is the partition number. The events table's insert
// trigger (migration 011) sends it at commit.
const partitionChannel = "leadflow_partition"

// NotifyPartitions wakes the owners of the given partitions (work other
// than inserted events: a quarantined event released, a delivery retried).
func (s *Store) NotifyPartitions(ctx context.Context, partitions []int) error {
	ps := make([]int32, len(partitions))
	for i, p := range partitions {
		ps[i] = int32(p)
	}
	if _, err := s.Pool.Exec(ctx, `SELECT pg_notify('`+partitionChannel+`', p::text) FROM unnest($1::int[]) AS p`, ps); err != nil {
		return fmt.Errorf("error notifying partitions %v: %w", partitions, err)
	}
	return nil
}

// PartitionNotifier is one LISTEN connection per process, multiplexed over
// the partitions whose owners subscribe. It reconnects when the connection
// fails and then wakes every subscriber, since notifications sent meanwhile
// are lost. Wake-ups carry no data and coalesce: a subscriber's channel
// holds at most one.
type PartitionNotifier struct {
	store *Store
	mu    sync.Mutex
	subs  map[int]map[chan struct{}]struct{}
}

// NewPartitionNotifier returns a notifier; Run listens.
func (s *Store) NewPartitionNotifier() *PartitionNotifier {
	return &PartitionNotifier{store: s, subs: map[int]map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value when the partition has
// new work, and the function that ends the subscription.
func (n *PartitionNotifier) Subscribe(partition int) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.subs[partition] == nil {
		n.subs[partition] = map[chan struct{}]struct{}{}
	}
	n.subs[partition][ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs[partition], ch)
		n.mu.Unlock()
	}
}

func (n *PartitionNotifier) wake(partition int, all bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for p, subs := range n.subs {
		if !all && p != partition {
			continue
		}
		for ch := range subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Run listens until ctx ends, reconnecting with a backoff (up to 2 s)
// after a failure, which it reports to onError.
func (n *PartitionNotifier) Run(ctx context.Context, onError func(error)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (n *PartitionNotifier) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, n.store.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("error opening the LISTEN connection: %w", err)
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(c)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+partitionChannel); err != nil {
		return fmt.Errorf("error listening for partition notifications: %w", err)
	}
	// Whatever was notified while no connection listened is lost.
	n.wake(0, true)
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("error waiting for partition notifications: %w", err)
		}
		if p, err := strconv.Atoi(note.Payload); err == nil {
			n.wake(p, false)
		}
	}
}
