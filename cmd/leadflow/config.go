package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/temporallog"
	"github.com/leadflow/leadflow/worker"
)

// config is the configuration shared by the commands, from the environment
// with flags overriding.
type config struct {
	DatabaseURL     string
	TemporalAddress string
	Namespace       string
	TaskQueue       string
	HTTPAddr        string
	AdminKey        string
	IngestKey       string
	CRMWebhookURL   string
	MetricsAddr     string
	LogLevel        string
	LogFormat       string
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// newFlagSet returns a flag set whose usage lists the command's flags with
// their defaults.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("leadflow "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: leadflow %s\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (c *config) bindDatabase(fs *flag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", store.DefaultURL), "PostgreSQL URL (env DATABASE_URL)")
}

func (c *config) bindTemporal(fs *flag.FlagSet) {
	fs.StringVar(&c.TemporalAddress, "temporal-address", env("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&c.Namespace, "temporal-namespace", env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.TaskQueue, "task-queue", env("LEADFLOW_TASK_QUEUE", worker.DefaultTaskQueue), "Temporal task queue (env LEADFLOW_TASK_QUEUE)")
}

func (c *config) bindAPI(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http-addr", env("LEADFLOW_HTTP_ADDR", "127.0.0.1:8080"), "API listen address (env LEADFLOW_HTTP_ADDR)")
	fs.StringVar(&c.AdminKey, "admin-key", os.Getenv("LEADFLOW_ADMIN_KEY"), "API key that may do everything (env LEADFLOW_ADMIN_KEY)")
	fs.StringVar(&c.IngestKey, "ingest-key", os.Getenv("LEADFLOW_INGEST_KEY"), "API key that may only send events (env LEADFLOW_INGEST_KEY)")
}

func (c *config) bindWorker(fs *flag.FlagSet) {
	fs.StringVar(&c.CRMWebhookURL, "crm-webhook-url", os.Getenv("CRM_WEBHOOK_URL"), "POST every CRM task here as JSON (env CRM_WEBHOOK_URL)")
}

func (c *config) bindLog(fs *flag.FlagSet) {
	fs.StringVar(&c.LogLevel, "log-level", env("LEADFLOW_LOG_LEVEL", "info"), "debug, info, warn or error (env LEADFLOW_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", os.Getenv("LEADFLOW_LOG_FORMAT"), "json or console; default console on a terminal, else json (env LEADFLOW_LOG_FORMAT)")
}

// logger builds the one zerolog logger passed down everywhere.
func (c *config) logger(stderr io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(c.LogLevel))
	if err != nil || c.LogLevel == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel)
	}
	format := c.LogFormat
	if format == "" {
		format = "json"
		if f, ok := stderr.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "console"
			}
		}
	}
	var w io.Writer = stderr
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.Kitchen}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: use json or console", format)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// temporalClient connects to Temporal, retrying for up to wait while the
// server comes up.
func (c *config) temporalClient(ctx context.Context, log zerolog.Logger, wait time.Duration) (client.Client, error) {
	opts := client.Options{
		HostPort:  c.TemporalAddress,
		Namespace: c.Namespace,
		Logger:    sdkLogger(log),
	}
	deadline := time.Now().Add(wait)
	for {
		cl, err := client.DialContext(ctx, opts)
		if err == nil {
			return cl, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("error connecting to Temporal at %s (namespace %q; set TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE): %w",
				c.TemporalAddress, c.Namespace, err)
		}
		log.Warn().Err(err).Str("address", c.TemporalAddress).Msg("waiting for Temporal")
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func maxLevel(a, b zerolog.Level) zerolog.Level {
	if a > b {
		return a
	}
	return b
}

var flagHelp = flag.ErrHelp

func sdkLogger(log zerolog.Logger) sdklog.Logger {
	return temporallog.New(log.With().Str("component", "temporal-sdk").Logger().Level(maxLevel(log.GetLevel(), zerolog.WarnLevel)))
}
