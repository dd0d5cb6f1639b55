package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Deployment is the identity of one leadflow deployment: its database,
// recorded there by the migrations (007_deployment.sql). Workflow inputs and
// outbox payloads carry ID, so that a worker can refuse work that belongs to
// another deployment sharing its Temporal task queue.
type Deployment struct {
	ID        string    // "dep_" and 16 random hex digits
	Database  string    // the database's name when the identity was created
	CreatedAt time.Time // when the identity was created
}

// ErrNoDeployment is returned by Deployment when the database has no
// identity yet: it was not migrated.
var ErrNoDeployment = errors.New("the database has no deployment identity (run `leadflow migrate`)")

// Deployment reads the database's deployment identity.
func (s *Store) Deployment(ctx context.Context) (Deployment, error) {
	var d Deployment
	err := s.Pool.QueryRow(ctx, `SELECT id, database_name, created_at FROM deployment`).Scan(&d.ID, &d.Database, &d.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || (errors.As(err, &pgErr) && pgErr.Code == "42P01") { // undefined_table
		return Deployment{}, ErrNoDeployment
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("error reading the deployment identity: %w", err)
	}
	return d, nil
}
