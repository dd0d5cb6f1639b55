// Package demo generates a realistic history for leadflow — contacts with
// profiles, months of events and deals won — whose conversions depend on
// behaviour and profile in a known way (Truth), and loads it through the
// engine with a simulated clock, so that the conversion report and the
// suggested points can be checked against what is known to be true.
package demo

import (
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/leadflow/leadflow/store"
)

// ModelJSON is the demo's score model ("demo"): its points are a plausible
// guess that Truth does not follow (blog visits, newsletter opens and CEOs
// count for nothing in it).
//
//go:embed model.json
var ModelJSON []byte

// ModelID is the id of the demo's score model.
const ModelID = "demo"

// Truth is the log-odds of a contact winning a deal:
// Intercept + Pricing × pricing-page visits + Demo × (requested a demo) +
// BigCompany × (200 employees or more). Nothing else matters.
var Truth = struct {
	Intercept, Pricing, Demo, BigCompany float64
}{Intercept: -4, Pricing: 0.5, Demo: 1.8, BigCompany: 1.2}

// Config sizes the history.
type Config struct {
	Contacts int
	Seed     uint64
	// End is the time of the last simulated day; contacts are created
	// over the first CreateDays of the Days before it.
	End time.Time
}

// History timing: contacts are created over createDays, act within
// activeDays of creation, and win their deal 35–75 days after creation,
// so every conversion falls within Days and the default 180-day report
// window holds every contact.
const (
	Days       = 175
	createDays = 95
	activeDays = 30
)

// Event is one generated event at its time.
type Event struct {
	At  time.Time
	Row store.EventRow
}

var (
	roles     = []string{"CEO", "CTO", "Marketing manager", "Developer", "Analyst", "Student"}
	employees = []float64{5, 20, 50, 120, 250, 800, 3000}
	blogPosts = []string{"lead-scoring-101", "decay-explained", "mql-vs-sql", "nurture-flows"}
)

// Generate returns the history's events in time order.
func Generate(cfg Config) []Event {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x1ead))
	start := cfg.End.Add(-Days * 24 * time.Hour)
	var out []Event
	for i := 0; i < cfg.Contacts; i++ {
		id := fmt.Sprintf("demo-%05d", i)
		created := start.Add(time.Duration(rng.Float64() * createDays * 24 * float64(time.Hour))).Truncate(time.Second)
		seq := 0
		add := func(at time.Time, typ string, props map[string]any) *store.EventRow {
			seq++
			out = append(out, Event{At: at, Row: store.EventRow{ID: fmt.Sprintf("%s-%03d", id, seq), ContactID: id, Type: typ, Properties: props, OccurredAt: at}})
			return &out[len(out)-1].Row
		}
		email := id + "@example.com"
		size := employees[rng.IntN(len(employees))]
		ident := add(created, "identify", map[string]any{})
		ident.Email = &email
		ident.Traits = map[string]any{"employees": size, "role": roles[rng.IntN(len(roles))], "company": fmt.Sprintf("Company %d", rng.IntN(900))}
		// How engaged the contact is drives every kind of activity alike,
		// so activity that does not matter correlates with activity that does.
		engaged := []float64{0.4, 1, 2.2}[rng.IntN(3)]
		when := func() time.Time {
			return created.Add(time.Duration((0.01 + rng.Float64()*activeDays) * 24 * float64(time.Hour))).Truncate(time.Second)
		}
		pricing := poisson(rng, 1.1*engaged)
		for k := 0; k < pricing; k++ {
			add(when(), "page_visited", map[string]any{"url": "https://www.example.com/pricing"})
		}
		for k := poisson(rng, 2*engaged); k > 0; k-- {
			add(when(), "page_visited", map[string]any{"url": "https://www.example.com/blog/" + blogPosts[rng.IntN(len(blogPosts))]})
		}
		for k := poisson(rng, 2*engaged); k > 0; k-- {
			add(when(), "email_opened", map[string]any{"campaign": "newsletter"})
		}
		demo := rng.Float64() < 0.08*engaged
		if demo {
			add(when(), "demo_requested", map[string]any{})
		}
		logit := Truth.Intercept + Truth.Pricing*float64(pricing)
		if demo {
			logit += Truth.Demo
		}
		if size >= 200 {
			logit += Truth.BigCompany
		}
		if rng.Float64() < 1/(1+math.Exp(-logit)) {
			at := created.Add(time.Duration((35 + rng.Float64()*40) * 24 * float64(time.Hour))).Truncate(time.Second)
			add(at, "deal_won", map[string]any{"amount": math.Round(size*40 + rng.Float64()*5000)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

func poisson(rng *rand.Rand, mean float64) int {
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
