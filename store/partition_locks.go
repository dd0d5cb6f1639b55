package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Advisory lock key spaces (the first key of the two-key form; the second
// is the partition, or the backend pid of a worker's lock connection).
const (
	partitionLockSpace = 0x4c465031 // "LFP1"
	workerLockSpace    = 0x4c465731 // "LFW1"
)

// ErrLockSessionLost is returned by a PartitionLocks whose connection failed
// or was closed: every lock it held is gone.
var ErrLockSessionLost = errors.New("partition lock connection lost")

// PartitionLocks is one worker's dedicated connection for partition
// ownership. It holds a session advisory lock on each partition the worker
// owns, and one on its own backend pid, which marks the worker as live for
// as long as the connection lives: when the process dies, PostgreSQL drops
// the connection and every lock with it, so another worker can take the
// partitions at once.
type PartitionLocks struct {
	mu   sync.Mutex
	conn *pgx.Conn
	pid  int32
	done chan struct{}
	once sync.Once
}

// OpenPartitionLocks opens a lock connection and marks the worker live.
func (s *Store) OpenPartitionLocks(ctx context.Context) (*PartitionLocks, error) {
	conn, err := pgx.ConnectConfig(ctx, s.Pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("error opening the partition lock connection: %w", err)
	}
	l := &PartitionLocks{conn: conn, done: make(chan struct{})}
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&l.pid); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("error reading the lock connection's backend: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, int32(workerLockSpace), l.pid); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("error marking the worker live: %w", err)
	}
	return l, nil
}

// PID is the backend pid of the lock connection (partition_owners.owner_pid).
func (l *PartitionLocks) PID() int32 { return l.pid }

// Done is closed when the connection is lost or closed.
func (l *PartitionLocks) Done() <-chan struct{} { return l.done }

// Close releases every lock.
func (l *PartitionLocks) Close() {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		defer l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.conn.Close(ctx)
	})
}

// use runs fn on the connection; a failure of the connection itself loses
// the session (and its locks).
func (l *PartitionLocks) use(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	return l.useFor(ctx, 5*time.Second, fn)
}

// useFor is use with a timeout of its own (a timeout ends the connection).
func (l *PartitionLocks) useFor(ctx context.Context, timeout time.Duration, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	select {
	case <-l.done:
		return ErrLockSessionLost
	default:
	}
	l.mu.Lock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	err := fn(ctx, l.conn)
	cancel()
	broken := l.conn.IsClosed()
	l.mu.Unlock()
	if broken {
		l.Close()
		return fmt.Errorf("%w: %v", ErrLockSessionLost, err)
	}
	return err
}

// Ping checks that the connection, and so its locks, still live, and
// shows the other workers that this one does (TerminateFrozenWorkers).
func (l *PartitionLocks) Ping(ctx context.Context) error {
	return l.use(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `SELECT 1`); err != nil {
			_ = conn.Close(context.Background())
			return err
		}
		return nil
	})
}

// TryLock takes the partition's lock without waiting; false when another
// session holds it. Session locks are re-entrant: the caller must not ask
// twice for a partition it holds.
func (l *PartitionLocks) TryLock(ctx context.Context, partition int) (bool, error) {
	var ok bool
	err := l.use(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(partitionLockSpace), int32(partition)).Scan(&ok)
	})
	if err != nil {
		return false, fmt.Errorf("error locking partition %d: %w", partition, err)
	}
	return ok, nil
}

// TerminateHolder ends the session that holds the partition's lock (and so
// every lock it holds), waiting up to 2 s for it to go. Call it only when
// the holder is known to be superseded: an owner that Temporal gave up on
// (its heartbeats stopped: a frozen process, a worker cut off from
// Temporal) but whose connection PostgreSQL still keeps. It reports
// whether a session was ended.
func (l *PartitionLocks) TerminateHolder(ctx context.Context, partition int) (bool, error) {
	var ended bool
	err := l.use(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT coalesce(bool_or(pg_terminate_backend(pid, 2000)), false) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid::int8 = $1 AND objid::int8 = $2
			AND pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
			int64(partitionLockSpace), int64(partition)).Scan(&ended)
	})
	if err != nil {
		return false, fmt.Errorf("error ending the session that holds partition %d: %w", partition, err)
	}
	return ended, nil
}

// TerminateFrozenWorkers ends the lock connections of workers that have
// sent nothing on them for longer than quiet (live workers ping theirs
// every second): their process is frozen or cut off. Their locks go with
// the connections. It returns the backend pids it ended.
func (l *PartitionLocks) TerminateFrozenWorkers(ctx context.Context, quiet time.Duration) ([]int32, error) {
	var pids []int32
	err := l.use(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `WITH frozen AS MATERIALIZED (
				SELECT a.pid FROM pg_locks w JOIN pg_stat_activity a ON a.pid = w.pid
				WHERE w.locktype = 'advisory' AND w.granted AND w.objsubid = 2 AND w.classid::int8 = $1
				AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND a.pid <> pg_backend_pid() AND a.state = 'idle' AND a.state_change < now() - make_interval(secs => $2))
			SELECT pid FROM frozen WHERE pg_terminate_backend(pid, 2000)`, int64(workerLockSpace), quiet.Seconds())
		if err != nil {
			return err
		}
		pids, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("error ending the lock connections of frozen workers: %w", err)
	}
	return pids, nil
}

// Unlock releases the partition's lock.
func (l *PartitionLocks) Unlock(ctx context.Context, partition int) error {
	err := l.use(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, int32(partitionLockSpace), int32(partition))
		return err
	})
	if err != nil {
		return fmt.Errorf("error unlocking partition %d: %w", partition, err)
	}
	return nil
}

// FleetLoad is how many partitions each live worker owns, by the backend
// pid of its lock connection (workers that own none included).
type FleetLoad map[int32]int

// Load reads the fleet's load from the locks PostgreSQL holds: exact at
// once when a worker dies, since its locks die with its connection.
func (l *PartitionLocks) Load(ctx context.Context) (FleetLoad, error) {
	load := FleetLoad{}
	err := l.use(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT w.pid, (SELECT count(*) FROM pg_locks p
				WHERE p.locktype = 'advisory' AND p.database = w.database AND p.pid = w.pid AND p.granted
				AND p.objsubid = 2 AND p.classid::int8 = $2)
			FROM pg_locks w
			WHERE w.locktype = 'advisory' AND w.granted AND w.objsubid = 2 AND w.classid::int8 = $1
			AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
			int64(workerLockSpace), int64(partitionLockSpace))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var pid int32
			var n int
			if err := rows.Scan(&pid, &n); err != nil {
				return err
			}
			load[pid] = n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("error reading the partition load of the workers: %w", err)
	}
	return load, nil
}
