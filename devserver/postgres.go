package devserver

import (
	"bytes"
	"context"
	"crypto/md5" // #nosec G501 -- fingerprints schema manifests, as Temporal's own schema tool does
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	pgplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/common/resolver"
	dbschemas "go.temporal.io/server/schema"
	pgschema "go.temporal.io/server/schema/postgresql/v12"
)

// Temporal's embedded PostgreSQL schemas (go.temporal.io/server/schema).
const (
	pgMainSchemaDir       = "postgresql/v12/temporal"
	pgVisibilitySchemaDir = "postgresql/v12/visibility"
)

// pgTarget is a parsed PostgreSQL URL.
type pgTarget struct {
	url      *url.URL // as given; the path names the maintenance database
	addr     string   // host:port
	user     string
	password string
	attrs    map[string]string // query parameters (sslmode, …)
}

func parsePostgresURL(raw string) (*pgTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("devserver: invalid PostgresURL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("devserver: PostgresURL must be a postgres:// URL, got scheme %q", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "5432"
	}
	t := &pgTarget{
		url:   u,
		addr:  net.JoinHostPort(host, port),
		user:  "postgres",
		attrs: map[string]string{},
	}
	if u.User != nil {
		if n := u.User.Username(); n != "" {
			t.user = n
		}
		t.password, _ = u.User.Password()
	}
	for k, vs := range u.Query() {
		if len(vs) > 0 {
			t.attrs[k] = vs[len(vs)-1]
		}
	}
	if t.attrs["sslmode"] == "" {
		t.attrs["sslmode"] = "disable"
	}
	if _, set := t.attrs["synchronous_commit"]; !set && pgSynchronousCommit != "" {
		t.attrs["synchronous_commit"] = pgSynchronousCommit
	}
	return t, nil
}

// pgSynchronousCommit is the synchronous_commit setting of Temporal's
// sessions (a PostgresURL parameter of the same name wins). "off": a commit
// returns before its WAL reaches the disk, so a crash of the machine (not of
// PostgreSQL or of this process) can lose the last fraction of a second of
// Temporal state, never corrupt it: the trade SQLite's WAL mode with
// synchronous=NORMAL makes too, and what a dev server wants. Measured in
// storebench_test.go.
var pgSynchronousCommit = "off"

// sqlConfig is Temporal's persistence config for one database on the target.
func (t *pgTarget) sqlConfig(database string, maxConns int) *config.SQL {
	attrs := make(map[string]string, len(t.attrs))
	for k, v := range t.attrs {
		attrs[k] = v
	}
	return &config.SQL{
		PluginName:        pgplugin.PluginNamePGX,
		DatabaseName:      database,
		ConnectAddr:       t.addr,
		ConnectProtocol:   "tcp",
		User:              t.user,
		Password:          t.password,
		ConnectAttributes: attrs,
		MaxConns:          maxConns,
		MaxIdleConns:      maxConns,
	}
}

// setupPostgres creates the main and visibility databases when missing and
// brings both to the schema version this server build expects. It is safe to
// run on every start and from several processes at once (a PostgreSQL
// advisory lock serialises the migrations).
func setupPostgres(ctx context.Context, t *pgTarget, mainDB, visDB string, logger log.Logger) error {
	conn, err := pgx.Connect(ctx, t.url.String())
	if err != nil {
		return fmt.Errorf("devserver: connect to PostgreSQL at %s: %w", t.addr, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()

	lockKey := advisoryKey("leadflow/devserver/" + mainDB)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("devserver: take schema lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey) }()

	for _, db := range []string{mainDB, visDB} {
		if err := createDatabaseIfMissing(ctx, conn, db); err != nil {
			return err
		}
	}
	if err := migrate(ctx, t.sqlConfig(mainDB, 1), pgMainSchemaDir, pgschema.Version, logger); err != nil {
		return err
	}
	return migrate(ctx, t.sqlConfig(visDB, 1), pgVisibilitySchemaDir, pgschema.VisibilityVersion, logger)
}

func advisoryKey(s string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return int64(h.Sum64() >> 1)
}

func createDatabaseIfMissing(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("devserver: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if err != nil {
		// Lost a race with another creator that does not share our lock.
		if strings.Contains(err.Error(), "SQLSTATE 42P04") {
			return nil
		}
		return fmt.Errorf("devserver: create database %q (the user needs CREATEDB, or create it beforehand): %w", name, err)
	}
	return nil
}

// manifest is a versioned schema directory's manifest.json.
type manifest struct {
	CurrVersion          string
	MinCompatibleVersion string
	Description          string
	SchemaUpdateCqlFiles []string
	AllowNoCqlFiles      bool
}

// migrate applies the versioned schema updates under dir newer than the
// database's recorded version, recording each one in schema_version and
// schema_update_history the way Temporal's temporal-sql-tool does
// (setup-schema -v 0.0, then update-schema -d <dir>/versioned), so the result
// is interchangeable with a database that tool prepared.
func migrate(ctx context.Context, cfg *config.SQL, dir, want string, logger log.Logger) error {
	db, err := sql.NewSQLAdminDB(sqlplugin.DbKindUnknown, cfg, resolver.NewNoopResolver(), logger, metrics.NoopMetricsHandler)
	if err != nil {
		return fmt.Errorf("devserver: open database %q: %w", cfg.DatabaseName, err)
	}
	defer func() { _ = db.Close() }()

	if err := db.CreateSchemaVersionTables(); err != nil {
		return fmt.Errorf("devserver: create schema version tables in %q: %w", cfg.DatabaseName, err)
	}
	current, err := db.ReadSchemaVersion(cfg.DatabaseName)
	if err != nil || current == "" {
		current = "0.0"
	}
	if cmpVersion(current, want) >= 0 {
		return nil
	}

	assets := dbschemas.Assets()
	versionedDir := path.Join(dir, "versioned")
	entries, err := fs.ReadDir(assets, versionedDir)
	if err != nil {
		return fmt.Errorf("devserver: read embedded schema %s: %w", versionedDir, err)
	}
	var versions []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "v") {
			continue
		}
		v := strings.TrimPrefix(e.Name(), "v")
		if cmpVersion(v, current) > 0 && cmpVersion(v, want) <= 0 {
			versions = append(versions, v)
		}
	}
	sort.Slice(versions, func(i, j int) bool { return cmpVersion(versions[i], versions[j]) < 0 })

	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return err
		}
		vdir := path.Join(versionedDir, "v"+v)
		raw, err := fs.ReadFile(assets, path.Join(vdir, "manifest.json"))
		if err != nil {
			return fmt.Errorf("devserver: read %s/manifest.json: %w", vdir, err)
		}
		var m manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("devserver: parse %s/manifest.json: %w", vdir, err)
		}
		for _, f := range m.SchemaUpdateCqlFiles {
			body, err := fs.ReadFile(assets, path.Join(vdir, f))
			if err != nil {
				return fmt.Errorf("devserver: read %s/%s: %w", vdir, f, err)
			}
			stmts, err := persistence.LoadAndSplitQueryFromReaders([]io.Reader{bytes.NewReader(body)})
			if err != nil {
				return fmt.Errorf("devserver: split %s/%s: %w", vdir, f, err)
			}
			for _, stmt := range stmts {
				if err := db.Exec(stmt); err != nil {
					// A previous attempt stopped half-way through this version:
					// the same tolerance as temporal-sql-tool's update-schema.
					msg := err.Error()
					if strings.Contains(msg, "already exist") || strings.Contains(msg, "not found") {
						continue
					}
					return fmt.Errorf("devserver: schema %s v%s (%s): %w", cfg.DatabaseName, v, f, err)
				}
			}
		}
		minCompat := m.MinCompatibleVersion
		if minCompat == "" {
			minCompat = v
		}
		if err := db.UpdateSchemaVersion(cfg.DatabaseName, v, minCompat); err != nil {
			return fmt.Errorf("devserver: record schema version %s of %q: %w", v, cfg.DatabaseName, err)
		}
		sum := md5.Sum(raw) // #nosec G401 -- not security relevant
		if err := db.WriteSchemaUpdateLog(current, v, hex.EncodeToString(sum[:]), m.Description); err != nil {
			return fmt.Errorf("devserver: record schema history of %q: %w", cfg.DatabaseName, err)
		}
		current = v
	}
	if cmpVersion(current, want) != 0 {
		return fmt.Errorf("devserver: schema of %q is at %s after migrating, want %s", cfg.DatabaseName, current, want)
	}
	return nil
}

// cmpVersion compares dotted numeric versions ("1.9" < "1.10").
func cmpVersion(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

var errNoPostgresURL = errors.New("devserver: PostgresURL is required for the postgres store")

// PostgresDatabaseExists reports whether the PostgreSQL server at
// postgresURL has a database of that name (leadflow dev looks for the
// Temporal databases an older version shared between all databases).
func PostgresDatabaseExists(ctx context.Context, postgresURL, name string) (bool, error) {
	t, err := parsePostgresURL(postgresURL)
	if err != nil {
		return false, err
	}
	conn, err := pgx.Connect(ctx, t.url.String())
	if err != nil {
		return false, fmt.Errorf("devserver: connect to PostgreSQL at %s: %w", t.addr, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return false, fmt.Errorf("devserver: look up database %q: %w", name, err)
	}
	return exists, nil
}
