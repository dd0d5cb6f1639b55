package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/devserver"
)

// databaseName is the database a PostgreSQL URL names ("" when none).
func databaseName(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(u.Path, "/")
}

// devTemporalState is where `leadflow dev` keeps the embedded Temporal
// server's state for the database it serves, so that two databases never
// share it: PostgreSQL databases <database>_temporal and
// <database>_temporal_visibility, or the SQLite file
// <database>.temporal.db. override (--temporal-database) names them
// instead: databases override and override_visibility, or file override.db.
func devTemporalState(databaseURL, override string) (pgDatabase, sqliteFile string, err error) {
	if override != "" {
		if strings.ContainsAny(override, `/\`) {
			return "", "", fmt.Errorf("--temporal-database %q: a name, without slashes", override)
		}
		return override, override + ".db", nil
	}
	db := databaseName(databaseURL)
	if db == "" {
		return "", "", fmt.Errorf("DATABASE_URL %q names no database: name one, or set --temporal-database", databaseURL)
	}
	if strings.ContainsAny(db, `/\`) {
		return "", "", fmt.Errorf("database name %q: slashes cannot name Temporal's state after it; set --temporal-database", db)
	}
	// PostgreSQL cuts names at 63 bytes, so two long database names could
	// share Temporal's: refuse rather than risk it.
	if pg := db + "_temporal_visibility"; len(pg) > 63 {
		return "", "", fmt.Errorf("database name %q is too long to name Temporal's databases after it (%q is over PostgreSQL's 63 bytes); set --temporal-database", db, pg)
	}
	return db + "_temporal", db + ".temporal.db", nil
}

// warnSharedTemporal warns when the Temporal state an older leadflow dev
// shared between every database is still there (PostgreSQL databases
// `temporal` and `temporal_visibility`, or the SQLite file temporal.db in
// the data directory): runs waiting there are not resumed by a dev whose
// state is named after its database.
func warnSharedTemporal(ctx context.Context, opts devserver.Options, overridden bool, log zerolog.Logger) {
	if overridden {
		return
	}
	var old, now string
	switch opts.Store {
	case devserver.StorePostgres:
		old, now = devserver.DefaultPostgresDatabase, opts.PostgresDatabase
		if now == old {
			return
		}
		if exists, err := devserver.PostgresDatabaseExists(ctx, opts.PostgresURL, old); err != nil || !exists {
			return
		}
		old = "PostgreSQL databases " + old + " and " + old + "_visibility"
	case devserver.StoreSQLite:
		if opts.SQLiteFile == devserver.SQLiteFileName {
			return
		}
		file := filepath.Join(opts.DataDir, devserver.SQLiteFileName)
		if _, err := os.Stat(file); err != nil {
			return
		}
		old, now = "SQLite file "+file, opts.SQLiteFile
	default:
		return
	}
	log.Warn().Str("old", old).Str("new", now).
		Msgf("an older leadflow dev kept Temporal's state in %s, shared by every database; this one keeps it in %s: "+
			"flow runs waiting in the old state are not resumed here (if it served this database alone, run with "+
			"--temporal-database temporal until they are done; then delete it)", old, now)
}
