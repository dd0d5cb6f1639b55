package activities

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/leadflow/leadflow/store"
)

// Balancing of partitions over the workers.
const (
	// balancePeriod is how often a worker compares its share of the
	// partitions with the others' (jittered by up to half of it).
	balancePeriod = 3 * time.Second
	// declineAttempts: an attempt to own a partition declines it while a
	// live worker owns fewer partitions than this one, for this many
	// attempts; then it takes it anyway, so a partition never stays
	// unowned because the load looks uneven.
	declineAttempts = 4
	// supersedeAttempts: an attempt this late that finds its partition's
	// lock held ends the holder's session. Temporal retries an owner only
	// after giving the previous attempt up (its heartbeats stopped), so the
	// holder is that attempt, frozen or cut off from Temporal; its
	// connection would otherwise keep the partition for as long as the
	// process lives. With the retry policy of PartitionWorkflow, attempt 7
	// starts about 3 s after the first retry (8 s after a freeze).
	supersedeAttempts = 7
)

// errPartitionBusy is why an owner did not take its partition.
var errPartitionBusy = errors.New("partition busy")

// PartitionOwners is a worker's side of partition ownership: the partitions
// it owns, the lock connection that holds their advisory locks (and marks
// the worker live), the LISTEN connection that wakes their owners, and the
// balancing of partitions with the other workers. One per worker process;
// Start it before the Temporal worker and Stop it after.
type PartitionOwners struct {
	store    *store.Store
	client   client.Client // fails the activities of owners whose worker died
	identity string
	log      zerolog.Logger
	notifier *store.PartitionNotifier

	mu    sync.Mutex
	locks *store.PartitionLocks // nil until needed, renewed when lost
	held  map[int]*partitionLease
	stop  context.CancelFunc
	wg    sync.WaitGroup
	// orphans: partitions seen unlocked with this epoch by the last reap
	// (a partition is reaped when seen twice), and the epochs reaped.
	orphans map[int]int64
	reaped  map[int]int64
}

// partitionLease is one partition owned by this worker.
type partitionLease struct {
	partition int
	epoch     int64
	locks     *store.PartitionLocks
	since     time.Time
	handBack  chan struct{} // closed when the worker hands it back
	handOnce  sync.Once
}

func (l *partitionLease) handBackNow() { l.handOnce.Do(func() { close(l.handBack) }) }

// NewPartitionOwners returns the ownership side of a worker whose Temporal
// identity is identity; c (may be nil: no reaping) fails the activities of
// owners whose worker died.
func NewPartitionOwners(s *store.Store, c client.Client, identity string, log zerolog.Logger) *PartitionOwners {
	return &PartitionOwners{store: s, client: c, identity: identity, log: log, notifier: s.NewPartitionNotifier(),
		held: map[int]*partitionLease{}, orphans: map[int]int64{}, reaped: map[int]int64{}}
}

// Start listens for notifications and balances partitions until Stop.
func (o *PartitionOwners) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	o.mu.Lock()
	o.stop = cancel
	o.mu.Unlock()
	o.mu.Lock()
	if _, err := o.session(ctx); err != nil {
		o.log.Warn().Err(err).Msg("could not open the partition lock connection yet; trying again shortly")
	}
	o.mu.Unlock()
	o.wg.Add(3)
	go func() {
		defer o.wg.Done()
		o.reapLoop(ctx)
	}()
	go func() {
		defer o.wg.Done()
		o.notifier.Run(ctx, func(err error) {
			o.log.Warn().Err(err).Msg("partition notifications interrupted; owners poll until they are back")
		})
	}()
	go func() {
		defer o.wg.Done()
		o.balanceLoop(ctx)
	}()
}

// Stop ends listening and balancing and releases every lock (owners still
// running lose their partitions: their transactions are fenced).
func (o *PartitionOwners) Stop() {
	o.mu.Lock()
	stop := o.stop
	o.stop = nil
	o.mu.Unlock()
	if stop != nil {
		stop()
	}
	o.wg.Wait()
	o.mu.Lock()
	if o.locks != nil {
		o.locks.Close()
		o.locks = nil
	}
	o.mu.Unlock()
}

// Owned returns the partitions this worker owns, in order.
func (o *PartitionOwners) Owned() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]int, 0, len(o.held))
	for p := range o.held {
		out = append(out, p)
	}
	sort.Ints(out)
	return out
}

// session returns the live lock connection, opening one when there is none
// or the last was lost. Call with o.mu held.
func (o *PartitionOwners) session(ctx context.Context) (*store.PartitionLocks, error) {
	if o.locks != nil {
		select {
		case <-o.locks.Done():
			o.locks = nil
		default:
			return o.locks, nil
		}
	}
	l, err := o.store.OpenPartitionLocks(ctx)
	if err != nil {
		return nil, err
	}
	o.locks = l
	return l, nil
}

// acquire takes the partition for an owner: its advisory lock, then the
// balance check, then a claim that bumps its epoch. attempt is the
// activity's attempt number (declines stop after declineAttempts).
func (o *PartitionOwners) acquire(ctx context.Context, partition, attempt int, act store.OwnerActivity) (*partitionLease, error) {
	l, err := o.lock(ctx, partition, attempt)
	if err != nil {
		return nil, err
	}
	// The claim may wait for a frozen owner's transaction: not under o.mu.
	epoch, err := o.store.ClaimPartition(ctx, partition, o.identity, l.locks.PID(), act)
	if err != nil {
		o.release(l)
		return nil, err
	}
	l.epoch = epoch
	return l, nil
}

// lock takes the partition's lock and reserves it in held.
func (o *PartitionOwners) lock(ctx context.Context, partition, attempt int) (*partitionLease, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.held[partition]; ok {
		// A previous owner in this process has not let go yet.
		return nil, fmt.Errorf("%w: partition %d is still owned by an earlier owner in this worker", errPartitionBusy, partition)
	}
	locks, err := o.session(ctx)
	if err != nil {
		return nil, err
	}
	ok, err := locks.TryLock(ctx, partition)
	if err != nil {
		return nil, err
	}
	if !ok && attempt >= supersedeAttempts {
		ended, err := locks.TerminateHolder(ctx, partition)
		if err != nil {
			return nil, err
		}
		if ended {
			o.log.Warn().Int("partition", partition).Int("attempt", attempt).
				Msg("ended the session of a superseded owner that still held the partition's lock")
			if ok, err = locks.TryLock(ctx, partition); err != nil {
				return nil, err
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: partition %d is locked by another owner", errPartitionBusy, partition)
	}
	if attempt <= declineAttempts {
		load, err := locks.Load(ctx)
		if err != nil {
			_ = locks.Unlock(ctx, partition)
			return nil, err
		}
		mine := len(o.held)
		if n, leave := leaveToOther(load, locks.PID(), mine); leave {
			if err := locks.Unlock(ctx, partition); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: partition %d is left to a worker that owns fewer partitions (%d, this one %d)",
				errPartitionBusy, partition, n, mine)
		}
	}
	l := &partitionLease{partition: partition, locks: locks, since: time.Now(), handBack: make(chan struct{})}
	o.held[partition] = l
	return l, nil
}

// release lets the partition go.
func (o *PartitionOwners) release(l *partitionLease) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held[l.partition] == l {
		delete(o.held, l.partition)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.locks.Unlock(ctx, l.partition); err != nil && !errors.Is(err, store.ErrLockSessionLost) {
		o.log.Warn().Err(err).Int("partition", l.partition).Msg("could not unlock partition; closing the lock connection")
		l.locks.Close() // releases every lock; the owners still running stop
	}
}

// balanceLoop hands partitions back while this worker owns at least two
// more than the least loaded live worker, down to its fair share, so that
// workers that join (or come back) get partitions.
func (o *PartitionOwners) balanceLoop(ctx context.Context) {
	for {
		wait := balancePeriod + time.Duration(rand.Int64N(int64(balancePeriod/2)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := o.balance(ctx); err != nil && ctx.Err() == nil {
			o.log.Debug().Err(err).Msg("could not balance partitions")
		}
	}
}

func (o *PartitionOwners) balance(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	// The lock connection marks this worker live for the others' balance,
	// even while it owns nothing: keep one open.
	if _, err := o.session(ctx); err != nil {
		return err
	}
	if len(o.held) == 0 {
		return nil
	}
	load, err := o.locks.Load(ctx)
	if err != nil {
		return err
	}
	mine := len(o.held)
	give := handBackCount(load, o.locks.PID(), mine, store.Partitions)
	if give == 0 {
		return nil
	}
	leases := make([]*partitionLease, 0, len(o.held))
	for _, l := range o.held {
		leases = append(leases, l)
	}
	// The most recently taken go first: the longest-held keep their warm state.
	sort.Slice(leases, func(i, j int) bool { return leases[i].since.After(leases[j].since) })
	for _, l := range leases[:give] {
		o.log.Info().Int("partition", l.partition).Int("owned", mine).Msg("handing a partition back to balance the workers")
		l.handBackNow()
	}
	return nil
}
