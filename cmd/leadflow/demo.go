package main

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/demo"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

const demoSynopsis = `demo [flags]

Generates a realistic history for the conversion report and the suggested
points: --contacts contacts with profiles (employees, role), 175 days of
events (pricing and blog page visits, newsletter opens, demo requests) and
deals won (deal_won with an amount), and the score model "demo". Whether a
contact wins a deal follows a known logistic model:
  log-odds = -4 + 0.5 × pricing visits + 1.8 × (requested a demo)
             + 1.2 × (200 employees or more)
— blog visits, newsletter opens and the CEO role do not matter, although the
model "demo" gives them points. So GET /v1/reports/conversion?model=demo shows
higher bands converting more, and GET /v1/models/demo/suggestions recovers
the rules that matter and names the others as candidates to drop.

The history is written to the database directly (migrated first) and applied
by the engine with a simulated clock, one day at a time ending now, so that
creation times, the score ledger and conversions are months apart. Run it on
a fresh database before starting leadflow on it (or with no worker running):
  leadflow demo --database-url postgres://postgres@127.0.0.1:5432/leadflow_demo
  leadflow dev --database-url postgres://postgres@127.0.0.1:5432/leadflow_demo`

// runDemo implements "leadflow demo".
func runDemo(args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet("demo", demoSynopsis, stderr)
	c.bindDatabase(fs)
	contacts := fs.Int("contacts", 3000, "contacts to generate")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same history)")
	force := fs.Bool("force", false, "write even when the database already holds contacts")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 || *contacts <= 0 {
		fmt.Fprintf(stderr, "leadflow demo: give --contacts > 0 and no arguments (got %q)\n", fs.Args())
		return 2
	}
	ctx, cancel := interruptContext()
	defer cancel()
	s, err := store.Open(ctx, c.DatabaseURL, true)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow demo:", err)
		return 1
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		fmt.Fprintln(stderr, "leadflow demo:", err)
		return 1
	}
	if has, err := s.HasContacts(ctx); err != nil || (has && !*force) {
		if err == nil {
			err = fmt.Errorf("database %q already holds contacts; use a fresh database, or --force to add the demo history to it", databaseName(c.DatabaseURL))
		}
		fmt.Fprintln(stderr, "leadflow demo:", err)
		return 1
	}
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(-time.Second)
	events := demo.Generate(demo.Config{Contacts: *contacts, Seed: *seed, End: end})
	fmt.Fprintf(stdout, "applying %d events of %d contacts over %d days ending %s\n", len(events), *contacts, demo.Days, end.Format(time.DateOnly))
	e := engine.New(s, "", zerolog.Nop())
	res, err := demo.Load(ctx, s, e, events, func(day, applied int) {
		if day%25 == 0 {
			fmt.Fprintf(stdout, "  day %d: %d events applied\n", day, applied)
		}
	})
	if err != nil {
		fmt.Fprintln(stderr, "leadflow demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "done: %d contacts, %d events, %d deals won; try GET /v1/reports/conversion?model=demo and GET /v1/models/demo/suggestions\n",
		res.Contacts, res.Events, res.Conversions)
	return 0
}
