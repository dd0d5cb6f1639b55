// Command leadflow is the lead-scoring and marketing-automation flow engine:
// one binary with a subcommand per role (dev, api, worker, migrate,
// validate, preview, bench, import, demo).
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"dev", "run everything on one machine: embedded Temporal, PostgreSQL setup, API and worker", runDev},
		{"api", "serve the HTTP API", runAPI},
		{"worker", "run a Temporal worker (flows, partitions, deliveries)", runWorker},
		{"migrate", "apply database migrations", runMigrate},
		{"validate", "check flow, segment and score model files", runValidate},
		{"bench", "benchmark against the baselines, with an exact correctness check and fault injection (--quick for CI)", runBench},
		{"preview", "show what draft definitions would have done over the stored history, before publishing", runPreview},
		{"demo", "generate a realistic history with known conversions into a database (for the conversion report and suggestions)", runDemo},
		{"import", "import contacts from a CSV or NDJSON file through the API (resumable, idempotent)", runImport},
		{"healthcheck", "GET a URL and exit 0 when it answers 2xx (for containers)", runHealthcheck},
		{"version", "print the version", func([]string, io.Writer, io.Writer) int { fmt.Println("leadflow", version); return 0 }},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `leadflow — lead scoring and marketing-automation flows on Temporal and PostgreSQL.

Usage:
  leadflow <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run "leadflow <command> --help" for a command's flags and environment.

Environment (flags override):
%s`, envHelp)
}

const envHelp = `  DATABASE_URL         PostgreSQL URL (default postgres://postgres@127.0.0.1:5432/leadflow?sslmode=disable)
  TEMPORAL_ADDRESS     Temporal frontend host:port (default 127.0.0.1:7233)
  TEMPORAL_NAMESPACE   Temporal namespace (default "default")
  LEADFLOW_TASK_QUEUE  Temporal task queue (default "leadflow")
  LEADFLOW_HTTP_ADDR   API listen address (default 127.0.0.1:8080)
  LEADFLOW_TEMPORAL_DATABASE  dev: name of Temporal's state (default: <database>_temporal)
  LEADFLOW_ADMIN_KEY   API key that may do everything
  LEADFLOW_INGEST_KEY  API key that may only send events
  LEADFLOW_VIEWER_KEY  key that may only read, and only in the console (/ui/)
  CRM_WEBHOOK_URL      when set, every CRM task is POSTed here as JSON
  LEADFLOW_WEBHOOK_ALLOW  CIDRs, addresses and host names deliveries may reach besides
                       public addresses (comma-separated; e.g. 10.20.0.0/16,crm.internal).
                       Loopback, private, link-local, cloud-metadata, multicast and other
                       non-public addresses are refused otherwise, checked on the address
                       dialled; redirects are not followed. dev adds loopback.
  LEADFLOW_WEBHOOK_SECRET whsec_<base64 key>: every delivery is signed per Standard Webhooks
                       (webhook-id, webhook-timestamp, webhook-signature); several secrets
                       separated by spaces sign with each (rotation). dev generates one.
  LEADFLOW_DELIVERY_RETRY_FOR how long a delivery is retried before it is failed (default 72h)
  LEADFLOW_EVENT_RETENTION  delete applied events older than this (e.g. 400d; default none:
                       keep them) in the background; scores do not change. Refused at start
                       and at publish when a definition reads events further back (an events
                       condition's or a frequency rule's "within"; no "within" reads all)
  LEADFLOW_METRICS_ADDR  serve /metrics without a key on this address (else on the API
                       address, admin key only)
  LEADFLOW_RATE_LIMIT, LEADFLOW_RATE_BURST  requests/s and burst per API client
                       (default 1000 and 2000; -1: off); beyond → 429 with Retry-After
  LEADFLOW_MAX_CONCURRENT  requests served at once (default 512); beyond → 503
  LEADFLOW_BROWSER_ORIGINS  origins whose pages may send events (CORS; default any)
  LEADFLOW_SENDGRID_VERIFICATION_KEY, LEADFLOW_MAILGUN_SIGNING_KEY,
  LEADFLOW_POSTMARK_USER, LEADFLOW_POSTMARK_PASSWORD  turn on the email providers'
                       event webhooks (/v1/integrations/sendgrid, /mailgun, /postmark)
  LEADFLOW_LOG_LEVEL   debug, info, warn, error (default info)
  LEADFLOW_LOG_FORMAT  json or console (default: console on a terminal, else json)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "--version", "-version":
		fmt.Fprintln(stdout, "leadflow", version)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "leadflow: unknown command %q; commands: %s\n", args[0], commandNames())
	return 2
}

func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}
