// Package storetest gives each test its own migrated PostgreSQL database on
// the server named by TEST_DATABASE_URL (default: the local server), dropped
// when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/store"
)

// ServerURL is the PostgreSQL server tests use.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates a fresh database, applies the migrations and returns
// its URL. The database is dropped in t.Cleanup.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "leadflow_test_" + hex.EncodeToString(b[:])
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatalf("connecting to PostgreSQL at %s (set TEST_DATABASE_URL): %v", admin.Redacted(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	dbURL := *u
	dbURL.Path = "/" + name
	s, err := store.Open(ctx, dbURL.String(), false)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating test database: %v", err)
	}
	s.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		if err != nil && !strings.Contains(err.Error(), "does not exist") {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	return dbURL.String()
}

// NewStore is NewDatabase opened as a Store, closed in t.Cleanup.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), NewDatabase(t), false)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}
