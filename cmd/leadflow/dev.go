package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/leadflow/leadflow/devserver"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

func runDev(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := interruptContext()
	defer cancel()
	return dev(ctx, args, stdout, stderr)
}

// dev is `leadflow dev` until ctx ends.
func dev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet("dev", `Run leadflow on one machine in one process: an embedded Temporal server, PostgreSQL
(DATABASE_URL; the database is created and migrated), the shipped definitions
published, the API and a worker. Ctrl-C stops everything; the next run picks up
where this one left off.`, stderr)
	c.bindDatabase(fs)
	c.bindAPI(fs)
	c.bindWorker(fs)
	c.bindRetention(fs)
	c.bindLog(fs)
	dataDir := fs.String("data-dir", env("LEADFLOW_DATA_DIR", ".leadflow"), "where dev keeps its state: keys, Temporal's SQLite file (env LEADFLOW_DATA_DIR)")
	temporalStore := fs.String("temporal-store", string(devserver.DefaultStore), "the embedded Temporal server's store: postgres (databases <database>_temporal and <database>_temporal_visibility in the same PostgreSQL) or sqlite (file <database>.temporal.db in --data-dir)")
	temporalDB := fs.String("temporal-database", os.Getenv("LEADFLOW_TEMPORAL_DATABASE"), "name Temporal's state NAME instead of after the database: PostgreSQL databases NAME and NAME_visibility, or SQLite file NAME.db (env LEADFLOW_TEMPORAL_DATABASE)")
	memory := fs.Bool("memory", false, "throwaway Temporal state in memory (timers and runs do not survive a restart)")
	temporalPort := fs.Int("temporal-port", 7233, "port of the embedded Temporal frontend (0: any free port)")
	uiPort := fs.Int("ui-port", 8233, "port of the Temporal Web UI, when built in (0: none)")
	noDefs := fs.Bool("no-definitions", false, "do not publish the shipped definitions")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	c.DevLoopback = true // local tries (a receiver on 127.0.0.1) work in dev
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow dev:", err)
		return 2
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Error().Err(err).Msg("cannot create the data directory")
		return 1
	}

	// PostgreSQL.
	s, err := store.Open(ctx, c.DatabaseURL, true)
	if err != nil && os.Getenv("DATABASE_URL") == "" && !flagSet(fs, "database-url") {
		// Nothing configured and nothing answers: run a private cluster
		// from the machine's server binaries, if there are any.
		log.Warn().Err(err).Msg("no PostgreSQL answers at the default address; trying a private cluster")
		url, stop, perr := startPrivatePostgres(ctx, filepath.Join(*dataDir, "postgres"), log)
		if perr == nil {
			defer stop()
			c.DatabaseURL = url
			s, err = store.Open(ctx, c.DatabaseURL, true)
		} else {
			log.Warn().Err(perr).Msg("no private PostgreSQL cluster")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, `leadflow dev: cannot reach PostgreSQL: %v

leadflow needs PostgreSQL 13 or newer. Either
  - start the local server (Debian/Ubuntu: apt-get install postgresql && pg_ctlcluster 15 main start), or
  - set DATABASE_URL to a server you can use, e.g. postgres://user:pass@host:5432/leadflow?sslmode=disable
`, err)
		return 1
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil {
		log.Error().Err(err).Msg("cannot migrate the database")
		return 1
	}
	for _, m := range applied {
		log.Info().Str("migration", m).Msg("applied")
	}

	// Temporal, its state next to the database's.
	pgDB, sqliteFile, err := devTemporalState(c.DatabaseURL, *temporalDB)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow dev:", err)
		return 2
	}
	opts := devserver.Options{
		DataDir:      *dataDir,
		FrontendPort: *temporalPort,
		UIPort:       *uiPort,
		Logger:       log.With().Str("component", "temporal-server").Logger(),
	}
	opts.PostgresDatabase, opts.SQLiteFile = pgDB, sqliteFile
	switch {
	case *memory:
		opts.Store = devserver.StoreMemory
	case *temporalStore == "sqlite":
		opts.Store = devserver.StoreSQLite
		warnSharedTemporal(ctx, opts, *temporalDB != "", log)
	case *temporalStore == "postgres":
		opts.Store = devserver.StorePostgres
		opts.PostgresURL = serverURL(c.DatabaseURL)
		warnSharedTemporal(ctx, opts, *temporalDB != "", log)
	default:
		fmt.Fprintf(stderr, "leadflow dev: --temporal-store %q: use postgres or sqlite\n", *temporalStore)
		return 2
	}
	log.Info().Str("store", string(opts.Store)).Str("postgres_database", opts.PostgresDatabase).Str("sqlite_file", opts.SQLiteFile).
		Msg("starting the embedded Temporal server")
	ts, err := devserver.Start(ctx, opts)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the embedded Temporal server")
		return 1
	}
	defer func() {
		if err := ts.Stop(); err != nil {
			log.Warn().Err(err).Msg("Temporal server stop")
		}
	}()
	c.TemporalAddress, c.Namespace = ts.FrontendHostPort(), ts.Namespace()
	c.TaskQueue = env("LEADFLOW_TASK_QUEUE", "leadflow")
	if err := c.loadDeployment(ctx, s, log, "dev"); err != nil {
		log.Error().Err(err).Msg("cannot start")
		return 1
	}

	// Definitions.
	if !*noDefs {
		results, err := engine.PublishShipped(ctx, s)
		if err != nil {
			log.Error().Err(err).Msg("cannot publish the shipped definitions")
			return 1
		}
		changed := 0
		for _, r := range results {
			if r.Changed {
				changed++
			}
		}
		log.Info().Int("definitions", len(results)).Int("new_versions", changed).Msg("shipped definitions published")
	}

	// Keys.
	if err := devKeys(&c, *dataDir); err != nil {
		log.Error().Err(err).Msg("cannot set up API keys")
		return 1
	}

	tc, err := c.temporalClient(ctx, log, time.Minute)
	if err != nil {
		log.Error().Err(err).Msg("cannot connect to the embedded Temporal server")
		return 1
	}
	defer tc.Close()
	w, err := startWorker(ctx, &c, s, tc, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the worker")
		return 1
	}
	srv, err := startAPI(&c, s, tc, log)
	if err != nil {
		w.Stop()
		log.Error().Err(err).Msg("cannot start the API")
		return 1
	}
	printBanner(stdout, &c, ts)
	<-ctx.Done()
	log.Info().Msg("stopping: API, then worker (draining), then Temporal")
	shutdownAPI(srv, log)
	w.Stop()
	return 0
}

// serverURL is databaseURL pointing at the server's postgres database.
func serverURL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL
	}
	u.Path = "/postgres"
	return u.String()
}

// devKeys takes the API keys from the environment, or from the data
// directory, or generates them there so that a restart keeps them.
func devKeys(c *config, dataDir string) error {
	path := filepath.Join(dataDir, "keys.json")
	var saved struct {
		Admin         string `json:"admin_key"`
		Ingest        string `json:"ingest_key"`
		WebhookSecret string `json:"webhook_secret"`
	}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &saved); err != nil {
			return fmt.Errorf("%s: %w (delete it to get new keys)", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if saved.Admin == "" {
		saved.Admin = "lf_admin_" + randomHex(16)
	}
	if saved.Ingest == "" {
		saved.Ingest = "lf_ingest_" + randomHex(16)
	}
	if saved.WebhookSecret == "" {
		saved.WebhookSecret = egress.NewSecret()
	}
	b, _ := json.MarshalIndent(saved, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	if c.AdminKey == "" {
		c.AdminKey = saved.Admin
	}
	if c.IngestKey == "" {
		c.IngestKey = saved.Ingest
	}
	if c.WebhookSecret == "" {
		c.WebhookSecret = saved.WebhookSecret
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func printBanner(w io.Writer, c *config, ts *devserver.Server) {
	base := "http://" + c.HTTPAddr
	if host, port, ok := strings.Cut(c.HTTPAddr, ":"); ok && (host == "" || host == "0.0.0.0") {
		base = "http://127.0.0.1:" + port
	}
	ui := "not served (--ui-port 0, or built with -tags leadflow_noui); use the `temporal` CLI or the temporalio/ui image against " + ts.FrontendHostPort()
	if a := ts.UIAddress(); a != "" {
		ui = "http://" + a
	}
	fmt.Fprintf(w, `
leadflow is running (Ctrl-C to stop).

  API          %[1]s   (OpenAPI: %[1]s/openapi.yaml)
  Console      %[1]s/ui/   (sign in with the admin key)
  Metrics      %[1]s/metrics   (admin key; or --metrics-addr / LEADFLOW_METRICS_ADDR)
  Deployment   %[10]s (database %[11]s)
  Temporal     %[2]s, namespace %[3]s, task queue %[4]s
  Temporal DB  %[12]s
  Temporal UI  %[5]s
  Admin key    %[6]s
  Ingest key   %[7]s
  Webhook secret %[8]s
               (deliveries are signed with it per Standard Webhooks; they may reach
               public addresses and loopback%[9]s)

Send an event (a booked meeting is worth 20 points: the lead becomes an MQL and sales gets a task):

  curl -s -X POST %[1]s/v1/events -H 'Authorization: Bearer %[7]s' -H 'Content-Type: application/json' \
    -d '{"id": "demo-1", "type": "calendly_booked", "contact_id": "ada", "email": "ada@example.com"}'

Read the contact back (scores, bands, segments), its score history and the CRM tasks:

  curl -s %[1]s/v1/contacts/ada -H 'Authorization: Bearer %[6]s'
  curl -s %[1]s/v1/contacts/ada/score-history -H 'Authorization: Bearer %[6]s'
  curl -s %[1]s/v1/tasks -H 'Authorization: Bearer %[6]s'

`, base, ts.FrontendHostPort(), ts.Namespace(), c.TaskQueue, ui, c.AdminKey, c.IngestKey, c.WebhookSecret, allowNote(c.WebhookAllow),
		c.Deployment.ID, c.Deployment.Database, ts.StateLocation())
}

// allowNote lists the operator's allow-list for the banner.
func allowNote(allow string) string {
	if strings.TrimSpace(allow) == "" {
		return "; LEADFLOW_WEBHOOK_ALLOW opens more"
	}
	return ", and " + allow
}

// flagSet reports whether a flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
