package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
)

// The fallback `leadflow dev` uses when no PostgreSQL answers: a private
// cluster from the machine's server binaries.
func TestPrivatePostgresCluster(t *testing.T) {
	if _, ok := postgresBinDir(); !ok {
		t.Skip("no PostgreSQL server binaries on this machine")
	}
	dir, err := os.MkdirTemp("", "leadflow-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, stop, err := startPrivatePostgres(ctx, filepath.Join(dir, "pg"), zerolog.Nop())
	require.NoError(t, err)
	defer stop()
	require.NoError(t, store.EnsureDatabase(ctx, url))
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
}
