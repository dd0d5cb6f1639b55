package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Contact is a generated contact, created by an identify message whose
// traits are Fields plus the email.
type Contact struct {
	ID     string
	Email  string
	Fields map[string]any // JSON values: string, float64, bool
}

// Event is one generated event. Identify events carry Traits (a field
// change); the others carry Properties.
type Event struct {
	ID         string
	ContactID  string
	Type       string
	Properties map[string]any
	Traits     map[string]any
	Email      string // identify only: set on the contact-creating identify
	// Timestamp, when set, is sent as the event's time (RFC 3339), so that
	// a resend is the same content byte for byte.
	Timestamp string
}

// IsIdentify reports whether the event is an identify (a contact upsert
// with traits), sent through the Segment-compatible /v1/batch route.
func (e *Event) IsIdentify() bool { return e.Type == "identify" }

// Distribution of events over contacts.
const (
	DistUniform = "uniform"
	DistZipf    = "zipf"
)

// ZipfS and ZipfV shape the skewed distribution: the contact of rank k
// (0-based) gets events with probability ∝ (ZipfV+k)^−ZipfS. With 10,000
// contacts the most active lead gets 2% of the events, the top 1% of leads
// 43% and the top 10% 74%.
const (
	ZipfS = 1.1
	ZipfV = 10
)

// Workload generates contacts and events deterministically from a seed.
type Workload struct {
	Prefix   string // prepended to every contact and event id
	Contacts []Contact
	seed     uint64
}

// NewWorkload generates n contacts with ids Prefix+"c000001"…
func NewWorkload(prefix string, n int, seed uint64) *Workload {
	w := &Workload{Prefix: prefix, seed: seed}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%sc%06d", prefix, i)
		w.Contacts = append(w.Contacts, newContact(r, id, i))
	}
	return w
}

var (
	roles      = []string{"CEO", "CMO", "CTO", "Manager", "Engineer", "Analyst", "Founder", "Designer"}
	titles     = []string{"Chief Marketing Officer", "Director of Sales", "VP Engineering", "Head of Growth", "Marketing Manager", "Engineer", "Analyst", "Consultant"}
	industries = []string{"software", "saas", "manufacturing", "financial services", "retail", "education", "healthcare"}
	countries  = []string{"IT", "ES", "PT", "BR", "US", "DE", "FR"}
	cities     = []string{"Rome", "Milan", "Madrid", "Lisbon", "São Paulo", "Boston", "Berlin", "Paris"}
	zones      = []string{"Europe/Rome", "Europe/Madrid", "Europe/Lisbon", "America/Sao_Paulo", "America/New_York", "Europe/Berlin", "UTC"}
	employees  = []float64{2, 4, 12, 30, 80, 400, 2500}
	domains    = []string{"example.com", "acme.example", "gmail.com", "outlook.com", "initech.example", "competitor-one.example"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func newContact(r *rand.Rand, id string, i int) Contact {
	f := map[string]any{
		"company":   "Company " + strconv.Itoa(1+r.IntN(2000)),
		"owner":     fmt.Sprintf("owner%d@sales.example", 1+r.IntN(20)),
		"industry":  pick(r, industries),
		"employees": pick(r, employees),
		"title":     pick(r, titles),
		"timezone":  pick(r, zones),
	}
	if r.Float64() < 0.7 {
		f["country"] = pick(r, countries)
	}
	if r.Float64() < 0.6 {
		f["city"] = pick(r, cities)
	}
	if r.Float64() < 0.4 {
		f["age"] = float64(22 + r.IntN(40))
	}
	if r.Float64() < 0.8 {
		f["role"] = pick(r, roles)
	}
	if r.Float64() < 0.3 {
		f["decision_maker"] = true
	}
	return Contact{ID: id, Email: fmt.Sprintf("lead%06d@%s", i, pick(r, domains)), Fields: f}
}

// IdentifyEvent is the event that creates a contact.
func (c *Contact) IdentifyEvent(id string) Event {
	traits := make(map[string]any, len(c.Fields))
	for k, v := range c.Fields {
		traits[k] = v
	}
	return Event{ID: id, ContactID: c.ID, Type: "identify", Traits: traits, Email: c.Email}
}

// mix is the event mix, in parts per 1,000.
var mix = []struct {
	weight int
	typ    string
}{
	{400, "page_visited"},
	{150, "email_opened"},
	{100, "email_clicked"},
	{15, "email_replied"},
	{5, "email_unsubscribed"},
	{20, "trial_started"},
	{50, "task_created"},
	{20, "project_created"},
	{15, "calendly_booked"},
	{10, "meeting_cancelled"},
	{30, "ad_clicked"},
	{30, "video_played"},
	{20, "form_submitted"},
	{10, "media_downloaded"},
	{5, "productb_signup"},
	{5, "productb_integration_connected"},
	{5, "productb_teammate_invited"},
	{10, "productb_report_created"},
	{100, "identify"},
}

var pages = []struct {
	weight int
	url    string
}{
	{20, "https://example.com/"},
	{20, "https://example.com/blog/post-%d"},
	{10, "https://example.com/features"},
	{10, "https://example.com/pricing"},
	{6, "https://example.com/contact"},
	{3, "https://example.com/careers"},
	{5, "https://example.com/docs/product-b/guide-%d"},
	{2, "https://example.com/product-b/pricing"},
	{4, "https://example.com/customers"},
}

var campaigns = []string{"nurture", "onboarding", "sales", "newsletter", "product-update"}

// Stream produces a phase's events: contacts drawn uniformly or by Zipf,
// types by the mix. Events are a deterministic function of the seed and
// their position.
type Stream struct {
	w      *Workload
	phase  string
	r      *rand.Rand
	zipf   *rand.Zipf
	perm   []int // zipf rank -> contact index
	n      int
	mixSum int
}

// NewStream returns the event stream of a phase; phase names the event ids
// (Prefix+phase+"-000001"…).
func (w *Workload) NewStream(phase, dist string, seed uint64) *Stream {
	r := rand.New(rand.NewPCG(w.seed^seed, uint64(len(phase))*7919+hashString(phase)))
	s := &Stream{w: w, phase: phase, r: r}
	for _, m := range mix {
		s.mixSum += m.weight
	}
	if dist == DistZipf && len(w.Contacts) > 1 {
		s.zipf = rand.NewZipf(r, ZipfS, ZipfV, uint64(len(w.Contacts)-1))
		// The same ranking for every zipf stream of the run: the hot leads
		// stay hot.
		pr := rand.New(rand.NewPCG(w.seed, 0xc0ffee))
		s.perm = pr.Perm(len(w.Contacts))
	}
	return s
}

func hashString(s string) uint64 {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Next returns the next event.
func (s *Stream) Next() Event {
	s.n++
	r := s.r
	var ci int
	if s.zipf != nil {
		ci = s.perm[s.zipf.Uint64()]
	} else {
		ci = r.IntN(len(s.w.Contacts))
	}
	c := &s.w.Contacts[ci]
	ev := Event{ID: fmt.Sprintf("%s%s-%07d", s.w.Prefix, s.phase, s.n), ContactID: c.ID}
	x := r.IntN(s.mixSum)
	for _, m := range mix {
		if x < m.weight {
			ev.Type = m.typ
			break
		}
		x -= m.weight
	}
	p := map[string]any{}
	switch ev.Type {
	case "page_visited":
		total := 0
		for _, pg := range pages {
			total += pg.weight
		}
		y := r.IntN(total)
		for _, pg := range pages {
			if y < pg.weight {
				u := pg.url
				if containsVerb(u) {
					u = fmt.Sprintf(u, 1+r.IntN(50))
				}
				p["url"] = u
				break
			}
			y -= pg.weight
		}
	case "email_opened", "email_clicked", "email_replied", "email_unsubscribed":
		p["campaign"] = pick(r, campaigns)
	case "task_created":
		switch r.IntN(3) {
		case 0:
			p["recurring"] = true
		case 1:
			p["recurring"] = false
		}
	case "ad_clicked":
		p["network"] = pick(r, []string{"linkedin", "facebook", "twitter"})
	case "form_submitted":
		p["form"] = pick(r, []string{"demo-request", "newsletter", "ebook"})
	case "video_played":
		p["video"] = fmt.Sprintf("v%d", r.IntN(10))
	case "identify":
		ev.Traits = fieldChange(r)
		p = nil
	}
	ev.Properties = p
	return ev
}

func containsVerb(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && s[i+1] == 'd' {
			return true
		}
	}
	return false
}

// fieldChange is the traits of an identify that changes one field.
func fieldChange(r *rand.Rand) map[string]any {
	switch x := r.IntN(100); {
	case x < 25:
		role := pick(r, roles)
		switch y := r.IntN(100); {
		case y < 2:
			role = "student"
		case y < 4:
			role = "unemployed"
		}
		return map[string]any{"role": role}
	case x < 40:
		return map[string]any{"employees": pick(r, employees)}
	case x < 65:
		return map[string]any{"nps": float64(r.IntN(11))}
	case x < 75:
		return map[string]any{"decision_maker": r.IntN(2) == 0}
	case x < 85:
		return map[string]any{"country": pick(r, countries)}
	case x < 95:
		return map[string]any{"city": pick(r, cities)}
	default:
		return map[string]any{"title": pick(r, titles)}
	}
}

// Take returns the next n events.
func (s *Stream) Take(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}
