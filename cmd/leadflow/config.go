package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/retention"
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
	// Deliveries (CRM tasks and webhook steps): LEADFLOW_WEBHOOK_ALLOW,
	// LEADFLOW_WEBHOOK_SECRET (environment only: a flag would show it in
	// --help and ps), LEADFLOW_DELIVERY_RETRY_FOR. DevLoopback: `leadflow
	// dev` also allows loopback.
	WebhookAllow     string
	WebhookSecret    string
	DeliveryRetryFor time.Duration
	DevLoopback      bool
	MetricsAddr      string
	Limits           api.Limits // see bindLimits
	LogLevel         string
	LogFormat        string
	Deployment       store.Deployment // read from the database at start (deployment.go)
	// Integrations holds the email providers' webhook secrets (env only:
	// secrets stay out of process listings).
	Integrations api.Integrations
	// BrowserOrigins are the sites whose pages may send events (CORS);
	// empty: any.
	BrowserOrigins []string
	// EventRetention is how long applied events are kept
	// (LEADFLOW_EVENT_RETENTION, --event-retention); zero: for ever.
	EventRetention time.Duration

	envErrors []error // malformed environment values found while binding flags
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
	c.Integrations = api.Integrations{
		SendGridVerificationKey: os.Getenv("LEADFLOW_SENDGRID_VERIFICATION_KEY"),
		MailgunSigningKey:       os.Getenv("LEADFLOW_MAILGUN_SIGNING_KEY"),
		PostmarkUser:            os.Getenv("LEADFLOW_POSTMARK_USER"),
		PostmarkPassword:        os.Getenv("LEADFLOW_POSTMARK_PASSWORD"),
	}
	fs.Func("browser-origins", "comma-separated origins (https://www.example.com) whose pages may send events from a browser; default any (env LEADFLOW_BROWSER_ORIGINS)",
		func(v string) error { c.BrowserOrigins = originList(v); return nil })
	c.BrowserOrigins = originList(os.Getenv("LEADFLOW_BROWSER_ORIGINS"))
	c.bindLimits(fs)
	c.bindMetrics(fs)
}

// originList splits the comma-separated origins setting, dropping empty
// items.
func originList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c *config) bindWorker(fs *flag.FlagSet) {
	fs.StringVar(&c.CRMWebhookURL, "crm-webhook-url", os.Getenv("CRM_WEBHOOK_URL"), "POST every CRM task here as JSON (env CRM_WEBHOOK_URL)")
	// --help shows the default: without the URL's secrets.
	fs.Lookup("crm-webhook-url").DefValue = egress.Redact(os.Getenv("CRM_WEBHOOK_URL"))
	fs.StringVar(&c.WebhookAllow, "webhook-allow", os.Getenv("LEADFLOW_WEBHOOK_ALLOW"),
		"comma-separated CIDRs, addresses and host names deliveries may reach besides public addresses; loopback, private, link-local, cloud-metadata and other non-public addresses are refused otherwise (env LEADFLOW_WEBHOOK_ALLOW)")
	retryFor := contract.DefaultDeliveryRetryFor
	if v := os.Getenv("LEADFLOW_DELIVERY_RETRY_FOR"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			retryFor = d
		} else {
			c.envErrors = append(c.envErrors, fmt.Errorf("LEADFLOW_DELIVERY_RETRY_FOR=%q is not a duration (e.g. 72h, 30m): %w", v, err))
		}
	}
	fs.DurationVar(&c.DeliveryRetryFor, "delivery-retry-for", retryFor, "stop retrying a delivery after this long; it is then failed (env LEADFLOW_DELIVERY_RETRY_FOR)")
	c.WebhookSecret = os.Getenv("LEADFLOW_WEBHOOK_SECRET")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), `
Environment only:
  LEADFLOW_WEBHOOK_SECRET  whsec_<base64 key, 24-64 bytes>: every delivery is signed per Standard
                           Webhooks (webhook-id, webhook-timestamp, webhook-signature: v1,<HMAC-SHA256>);
                           several secrets separated by spaces sign with each (rotation)
`)
	}
}

// deliveries builds the HTTP client (the egress fence with the allow-list)
// and the signing and retry options of the Deliver activity.
func (c *config) deliveries(log zerolog.Logger) (*http.Client, activities.DeliveryOptions, error) {
	if len(c.envErrors) > 0 {
		return nil, activities.DeliveryOptions{}, errors.Join(c.envErrors...)
	}
	allow, err := egress.ParseAllow(c.WebhookAllow)
	if err != nil {
		return nil, activities.DeliveryOptions{}, fmt.Errorf("LEADFLOW_WEBHOOK_ALLOW: %w", err)
	}
	if c.DevLoopback {
		allow = allow.Merge(egress.MustParseAllow(egress.Loopback))
	}
	signer, err := egress.ParseSecrets(c.WebhookSecret)
	if err != nil {
		return nil, activities.DeliveryOptions{}, fmt.Errorf("LEADFLOW_WEBHOOK_SECRET: %w", err)
	}
	if c.DeliveryRetryFor <= 0 {
		return nil, activities.DeliveryOptions{}, fmt.Errorf("--delivery-retry-for %s: must be greater than 0", c.DeliveryRetryFor)
	}
	if !signer.Enabled() {
		log.Warn().Msg("LEADFLOW_WEBHOOK_SECRET is not set: deliveries go out unsigned (no webhook-signature header); set it to a whsec_ secret so receivers can verify them")
	}
	if a := allow.String(); a != "" {
		log.Info().Str("allow", a).Msg("deliveries may also reach these non-public destinations")
	}
	return egress.NewClient(allow, 15*time.Second), activities.DeliveryOptions{Signer: signer, RetryFor: c.DeliveryRetryFor}, nil
}

// bindRetention binds the event retention horizon (api, worker and dev).
func (c *config) bindRetention(fs *flag.FlagSet) {
	if d, err := retention.ParseHorizon(os.Getenv(retention.EnvVar)); err != nil {
		c.envErrors = append(c.envErrors, fmt.Errorf("%s: %w", retention.EnvVar, err))
	} else {
		c.EventRetention = d
	}
	fs.Func("event-retention", `delete applied events older than this ("400d", "8w"; default none: keep them); refused at start when a published definition reads events further back (env LEADFLOW_EVENT_RETENTION)`,
		func(v string) error {
			d, err := retention.ParseHorizon(v)
			if err != nil {
				return err
			}
			c.EventRetention = d
			return nil
		})
}

// checkRetention refuses a horizon that would delete events a published
// definition reads, naming the definition and its window.
func (c *config) checkRetention(ctx context.Context, s *store.Store) error {
	if c.EventRetention <= 0 {
		return nil
	}
	defs, err := s.Definitions(ctx)
	if err != nil {
		return err
	}
	return retention.CheckDefinitions(c.EventRetention, defs)
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
