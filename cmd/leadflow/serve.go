package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/worker"
)

func interruptContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runMigrate(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet("migrate", "Create the database when missing and apply the embedded migrations.", stderr)
	c.bindDatabase(fs)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	ctx, cancel := interruptContext()
	defer cancel()
	s, err := store.Open(ctx, c.DatabaseURL, true)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow migrate:", err)
		return 1
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow migrate:", err)
		return 1
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return 0
}

func flagExit(err error) int {
	if errors.Is(err, flagHelp) {
		return 0
	}
	return 2
}

func runAPI(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet("api", "Serve the HTTP API: events in, contacts, scores, tasks and definitions out.", stderr)
	c.bindDatabase(fs)
	c.bindTemporal(fs)
	c.bindAPI(fs)
	c.bindRetention(fs)
	c.bindLog(fs)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow api:", err)
		return 2
	}
	if c.AdminKey == "" || c.IngestKey == "" {
		fmt.Fprintln(stderr, "leadflow api: set LEADFLOW_ADMIN_KEY and LEADFLOW_INGEST_KEY (or --admin-key / --ingest-key)")
		return 2
	}
	if len(c.envErrors) > 0 {
		fmt.Fprintln(stderr, "leadflow api:", errors.Join(c.envErrors...))
		return 2
	}
	ctx, cancel := interruptContext()
	defer cancel()
	s, err := store.Open(ctx, c.DatabaseURL, false)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the API")
		return 1
	}
	defer s.Close()
	if err := c.loadDeployment(ctx, s, log, "api"); err != nil {
		log.Error().Err(err).Msg("cannot start the API")
		return 1
	}
	if err := c.checkRetention(ctx, s); err != nil {
		log.Error().Err(err).Msg("cannot start the API")
		return 1
	}
	tc, err := client.NewLazyClient(client.Options{HostPort: c.TemporalAddress, Namespace: c.Namespace, Logger: sdkLogger(log)})
	if err != nil {
		log.Error().Err(err).Msg("cannot start the API")
		return 1
	}
	defer tc.Close()
	srv, err := startAPI(&c, s, tc, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the API")
		return 1
	}
	log.Info().Str("addr", c.HTTPAddr).Msg("API listening")
	<-ctx.Done()
	shutdownAPI(srv, log)
	return 0
}

// startAPI serves the API in the background.
func startAPI(c *config, s *store.Store, tc client.Client, log zerolog.Logger) (*http.Server, error) {
	if err := c.Integrations.Check(); err != nil {
		return nil, err
	}
	if len(c.envErrors) > 0 {
		return nil, errors.Join(c.envErrors...)
	}
	handler := api.New(api.Config{
		Store:          s,
		Waker:          worker.NewWaker(s, log),
		InsertsNotify:  true,
		AdminKey:       c.AdminKey,
		IngestKey:      c.IngestKey,
		ViewerKey:      os.Getenv("LEADFLOW_VIEWER_KEY"), // the console's read-only sign-in
		Log:            log,
		Integrations:   c.Integrations,
		BrowserOrigins: c.BrowserOrigins,
		Limits:         c.Limits,
		EventRetention: c.EventRetention,
		CRMWebhookURL:  cmp.Or(c.CRMWebhookURL, os.Getenv("CRM_WEBHOOK_URL")),
		Ready: func(ctx context.Context) error {
			if err := s.Pool.Ping(ctx); err != nil {
				return fmt.Errorf("database: %w", err)
			}
			if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
				return fmt.Errorf("temporal: %w", err)
			}
			return nil
		},
	})
	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("error listening on %s (set LEADFLOW_HTTP_ADDR): %w", c.HTTPAddr, err)
	}
	srv := api.NewHTTPServer(handler)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("API server stopped")
		}
	}()
	if err := serveMetrics(c, log); err != nil {
		_ = srv.Close()
		return nil, err
	}
	return srv, nil
}

func shutdownAPI(srv *http.Server, log zerolog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Msg("API shutdown")
	}
}

func runWorker(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet("worker", "Run a Temporal worker: partitions, flow runs and deliveries. Run several to share the work.", stderr)
	c.bindDatabase(fs)
	c.bindTemporal(fs)
	c.bindWorker(fs)
	c.bindRetention(fs)
	c.bindMetrics(fs)
	c.bindLog(fs)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	log, err := c.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow worker:", err)
		return 2
	}
	ctx, cancel := interruptContext()
	defer cancel()
	s, err := store.Open(ctx, c.DatabaseURL, false)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the worker")
		return 1
	}
	defer s.Close()
	if err := c.loadDeployment(ctx, s, log, "worker"); err != nil {
		log.Error().Err(err).Msg("cannot start the worker")
		return 1
	}
	tc, err := c.temporalClient(ctx, log, 2*time.Minute)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the worker")
		return 1
	}
	defer tc.Close()
	if err := serveMetrics(&c, log); err != nil {
		log.Error().Err(err).Msg("cannot start the worker")
		return 1
	}
	w, err := startWorker(ctx, &c, s, tc, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the worker")
		return 1
	}
	log.Info().Str("task_queue", c.TaskQueue).Msg("worker running")
	<-ctx.Done()
	w.Stop()
	return 0
}

// startWorker starts a Temporal worker and makes sure the partition workflows run.
func startWorker(ctx context.Context, c *config, s *store.Store, tc client.Client, log zerolog.Logger) (sdkworker.Worker, error) {
	hc, deliveries, err := c.deliveries(log)
	if err != nil {
		return nil, err
	}
	if err := c.checkRetention(ctx, s); err != nil {
		return nil, err
	}
	acts := &activities.Activities{
		Engine:         engine.New(s, c.CRMWebhookURL, log.With().Str("component", "engine").Logger()),
		Store:          s,
		Client:         tc,
		TaskQueue:      c.TaskQueue,
		Log:            log,
		HTTP:           hc,
		Deliveries:     deliveries,
		Deployment:     c.Deployment,
		EventRetention: c.EventRetention,
		Namespace:      c.Namespace,
	}
	if err := c.checkTaskQueue(ctx, tc, log); err != nil {
		return nil, err
	}
	w := worker.New(tc, c.TaskQueue, acts, c.workerOptions())
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("error starting the Temporal worker: %w", err)
	}
	if err := worker.EnsurePartitions(ctx, tc, c.TaskQueue, c.Deployment.ID); err != nil {
		w.Stop()
		return nil, err
	}
	if err := worker.EnsureRetention(ctx, tc, c.TaskQueue, c.Deployment.ID, c.EventRetention); err != nil {
		w.Stop()
		return nil, err
	}
	// Schedule flows' Temporal Schedules follow definitions changed while
	// no worker ran (the outbox does it for changes made while one runs).
	if err := acts.SyncSchedules(ctx); err != nil {
		log.Warn().Err(err).Msg("could not sync the schedules of schedule flows; publishing a flow again syncs its schedule")
	}
	return w, nil
}

func runHealthcheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("healthcheck URL", "GET URL (default http://127.0.0.1:8080/healthz) and exit 0 when it answers 2xx.", stderr)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	url := "http://127.0.0.1:8080/healthz"
	if fs.NArg() > 0 {
		url = fs.Arg(0)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		fmt.Fprintln(stderr, "unhealthy:", resp.Status)
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}

// bindMetrics binds the address /metrics is served on apart from the API
// (api, worker and dev alike). Without it, the API serves /metrics only to
// the admin key, and a worker not at all.
func (c *config) bindMetrics(fs *flag.FlagSet) {
	fs.StringVar(&c.MetricsAddr, "metrics-addr", os.Getenv("LEADFLOW_METRICS_ADDR"),
		"serve Prometheus /metrics without a key on this address, e.g. 127.0.0.1:9090 (env LEADFLOW_METRICS_ADDR)")
}

// serveMetrics serves /metrics on c.MetricsAddr, when set.
func serveMetrics(c *config, log zerolog.Logger) error {
	if c.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", c.MetricsAddr)
	if err != nil {
		return fmt.Errorf("error listening on %s for metrics (set LEADFLOW_METRICS_ADDR): %w", c.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	srv := api.NewHTTPServer(mux)
	go func() {
		err := srv.Serve(ln)
		log.Error().Err(err).Msg("metrics server stopped")
	}()
	log.Info().Str("addr", c.MetricsAddr).Msg("metrics listening")
	return nil
}

// bindLimits binds the API's protection (see api.Limits): 0 keeps a
// default, a negative value turns the limit off.
func (c *config) bindLimits(fs *flag.FlagSet) {
	fs.Float64Var(&c.Limits.RateLimit, "rate-limit", envNumber(c, "LEADFLOW_RATE_LIMIT", 0.0),
		fmt.Sprintf("requests per second per client (API key; ingest key per address; address without a key); 0: %d, -1: no limit (env LEADFLOW_RATE_LIMIT)", api.DefaultRateLimit))
	fs.IntVar(&c.Limits.RateBurst, "rate-burst", envNumber(c, "LEADFLOW_RATE_BURST", 0),
		fmt.Sprintf("requests a client may send at once beyond the rate; 0: %d (env LEADFLOW_RATE_BURST)", api.DefaultRateBurst))
	fs.IntVar(&c.Limits.MaxConcurrent, "max-concurrent", envNumber(c, "LEADFLOW_MAX_CONCURRENT", 0),
		fmt.Sprintf("requests served at once; others wait up to %s, then 503; 0: %d, -1: no limit (env LEADFLOW_MAX_CONCURRENT)", api.DefaultQueueWait, api.DefaultMaxConcurrent))
}

// envNumber reads a number from the environment; a value that does not
// parse is recorded in c.envErrors (the command then refuses to start).
func envNumber[T int | float64](c *config, name string, def T) T {
	raw := os.Getenv(name)
	if raw == "" {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || float64(T(f)) != f {
		c.envErrors = append(c.envErrors, fmt.Errorf("%s=%q is not a number (e.g. %v)", name, raw, T(1)))
		return def
	}
	return T(f)
}
