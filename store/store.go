// Package store owns leadflow's PostgreSQL: the connection pool, the embedded
// migrations and every SQL statement of the project. Business logic lives in
// the engine; this package only reads and writes rows.
package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is the database leadflow uses when DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/leadflow?sslmode=disable"

// Partitions is the fixed number of partitions contacts are hashed into.
// Each partition is applied by one partition workflow.
const Partitions = 16

// ErrNotFound is returned when a row asked for does not exist.
var ErrNotFound = errors.New("not found")

// PartitionOf returns the partition a contact belongs to.
func PartitionOf(contactID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(contactID))
	return int(h.Sum32() % Partitions)
}

// Store is leadflow's database.
type Store struct {
	Pool *pgxpool.Pool
}

// Open connects to databaseURL. When ensureDB is true and the database does
// not exist, it is created first (through the server's postgres database).
func Open(ctx context.Context, databaseURL string, ensureDB bool) (*Store, error) {
	if ensureDB {
		if err := EnsureDatabase(ctx, databaseURL); err != nil {
			return nil, err
		}
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("error parsing DATABASE_URL: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("error connecting to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("error connecting to PostgreSQL at %s: %w", redact(databaseURL), err)
	}
	return &Store{Pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// EnsureDatabase creates the database named in databaseURL when missing.
func EnsureDatabase(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return fmt.Errorf("error parsing DATABASE_URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("error connecting to PostgreSQL at %s: %w", redact(databaseURL), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("error looking up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("error creating database %q: %w", name, err)
	}
	return nil
}

func redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// InTx runs fn in a transaction, committing when fn returns nil. When ctx
// carries a partition fence (WithPartitionFence), the transaction first
// checks that its owner still owns the partition (see partition_fence.go).
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	f, fenced := ctx.Value(fenceKey{}).(partitionFence)
	if !fenced {
		return pgx.BeginFunc(ctx, s.Pool, fn)
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := f.check(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}
