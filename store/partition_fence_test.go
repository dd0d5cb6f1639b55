package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// An owner whose lock connection died (a zombie) cannot commit anything once
// another owner took the partition over; the new owner can. One lock holder
// at a time.
func TestPartitionFenceMakesAZombieHarmless(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.NewStore(t)
	const p = 7

	zombie, err := s.OpenPartitionLocks(ctx)
	require.NoError(t, err)
	ok, err := zombie.TryLock(ctx, p)
	require.NoError(t, err)
	require.True(t, ok)
	oldEpoch, err := s.ClaimPartition(ctx, p, "zombie", zombie.PID(), store.OwnerActivity{})
	require.NoError(t, err)

	next, err := s.OpenPartitionLocks(ctx)
	require.NoError(t, err)
	defer next.Close()
	ok, err = next.TryLock(ctx, p)
	require.NoError(t, err)
	require.False(t, ok, "a second session must not take a held partition")
	load, err := next.Load(ctx)
	require.NoError(t, err)
	require.Equal(t, store.FleetLoad{zombie.PID(): 1, next.PID(): 0}, load)

	zombie.Close() // its connection dies: the lock goes with it (as the server notices)
	require.Eventually(t, func() bool {
		ok, err := next.TryLock(ctx, p)
		require.NoError(t, err)
		return ok
	}, 5*time.Second, 10*time.Millisecond)
	act := store.OwnerActivity{Namespace: "default", WorkflowID: "q/partition-7", RunID: "r", ActivityID: "8"}
	newEpoch, err := s.ClaimPartition(ctx, p, "next", next.PID(), act)
	require.NoError(t, err)
	require.Equal(t, oldEpoch+1, newEpoch)

	ran := false
	err = s.InTx(store.WithPartitionFence(ctx, p, oldEpoch), func(pgx.Tx) error { ran = true; return nil })
	require.True(t, store.IsNotPartitionOwner(err), "%v", err)
	require.False(t, ran, "the zombie's transaction must not run")
	require.NoError(t, s.InTx(store.WithPartitionFence(ctx, p, newEpoch), func(pgx.Tx) error { ran = true; return nil }))
	require.True(t, ran)

	owners, err := s.PartitionOwners(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.PartitionOwnerRow{{Partition: p, Epoch: newEpoch, Owner: "next", OwnerPID: next.PID(),
		AcquiredAt: owners[0].AcquiredAt, Held: true, OwnerAlive: true, Activity: act}}, owners)
}

// An insert into the events log notifies its partition at commit.
func TestEventInsertNotifiesPartition(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := storetest.NewStore(t)
	n := s.NewPartitionNotifier()
	id := "notified"
	woken, unsubscribe := n.Subscribe(store.PartitionOf(id))
	defer unsubscribe()
	other, unsubscribeOther := n.Subscribe((store.PartitionOf(id) + 1) % store.Partitions)
	defer unsubscribeOther()
	go n.Run(ctx, func(err error) { t.Log(err) })
	<-woken // the first connection wakes everyone
	<-other
	_, _, err := s.InsertEvents(ctx, []store.EventRow{{ID: "e1", ContactID: id, Type: "page_visited"}})
	require.NoError(t, err)
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("the insert did not wake its partition")
	}
	select {
	case <-other:
		t.Fatal("another partition was woken")
	default:
	}
	require.NoError(t, s.NotifyPartitions(ctx, []int{(store.PartitionOf(id) + 1) % store.Partitions}))
	<-other
}

// A superseded owner whose connection still holds the lock (a frozen
// process) is ended by TerminateHolder: its locks go, and its session is
// lost for it.
func TestTerminateHolderFreesTheLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.NewStore(t)
	const p = 3
	frozen, err := s.OpenPartitionLocks(ctx)
	require.NoError(t, err)
	defer frozen.Close()
	ok, err := frozen.TryLock(ctx, p)
	require.NoError(t, err)
	require.True(t, ok)

	next, err := s.OpenPartitionLocks(ctx)
	require.NoError(t, err)
	defer next.Close()
	ended, err := next.TerminateHolder(ctx, p+1)
	require.NoError(t, err)
	require.False(t, ended, "nobody holds that partition")
	ended, err = next.TerminateHolder(ctx, p)
	require.NoError(t, err)
	require.True(t, ended)
	ok, err = next.TryLock(ctx, p)
	require.NoError(t, err)
	require.True(t, ok)
	require.Error(t, frozen.Ping(ctx))
	select {
	case <-frozen.Done():
	default:
		t.Fatal("the ended session is not reported lost")
	}
}

// A worker whose lock connection stays quiet is taken for frozen: its lock
// connection is ended, and its locks with it. One that pings is left alone.
func TestTerminateFrozenWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.NewStore(t)
	frozen, err := s.OpenPartitionLocks(ctx)
	require.NoError(t, err)
	defer frozen.Close()
	ok, err := frozen.TryLock(ctx, 2)
	require.NoError(t, err)
	require.True(t, ok)
	live, err := s.OpenPartitionLocks(ctx)
	require.NoError(t, err)
	defer live.Close()

	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, live.Ping(ctx))
	ended, err := live.TerminateFrozenWorkers(ctx, time.Second)
	require.NoError(t, err)
	require.Equal(t, []int32{frozen.PID()}, ended)
	ok, err = live.TryLock(ctx, 2)
	require.NoError(t, err)
	require.True(t, ok, "the frozen worker's lock must be gone")
	ended, err = live.TerminateFrozenWorkers(ctx, time.Second)
	require.NoError(t, err)
	require.Empty(t, ended)
}
