package bench

// Poison events: what a client may send that the engine must never choke
// on, mixed into the --faults load, about one for every PoisonEvery events
// of the load, while processes are killed, PostgreSQL restarts and a worker
// is paused. Every kind below is sent at least once per run (the kinds not
// reached by the end of the load are sent then), round robin, each poison
// request on its own so that it takes no good event down with it.
//
//   - refused: the edge must answer 400 naming the path and store nothing
//     (numbers beyond float64, NUL and control characters, ids too long or
//     with zero-width or bidirectional characters, nesting, too many
//     properties, a huge string, timestamps out of range, the engine's own
//     event types sent with the ingest key);
//   - conflict: the same event id with a different type, contact or
//     properties must be answered 409 and leave the first event as it was;
//   - duplicate: the same event sent again unchanged (a client's resend) is
//     acknowledged as a duplicate and applied once;
//   - applied: two events whose ledger idempotency keys were built alike
//     from ':'-joined ids (contact a + event b:main:task-created:c, contact
//     a:main:task-created:b + event c) are good events: both are applied
//     and scored exactly once;
//   - quarantined: an event the API would refuse today, written straight
//     into the event log (as an older version or another writer could
//     have), that the engine cannot apply: it must be listed by GET
//     /v1/events/failed, and the contact's next event must be applied.
//
// The good events of every kind go to the sent log, so that the exact
// check replays them in the reference; the contacts poison uses are fresh
// ones (the run's prefix + "px-…"), so that their events never race with the
// load's.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// What the system must do with a kind of poison.
const (
	ExpectRefused     = "refused"     // 400 naming the path; nothing stored
	ExpectConflict    = "conflict"    // 409; the first event stays as it was
	ExpectDuplicate   = "duplicate"   // 2xx counted as a duplicate; applied once
	ExpectApplied     = "applied"     // a good event: applied and scored exactly once
	ExpectQuarantined = "quarantined" // listed by GET /v1/events/failed
)

// DefaultPoisonEvery is one poison event per this many events of the load.
const DefaultPoisonEvery = 1000

// PoisonResult is what the run's poison events came to.
type PoisonResult struct {
	// Every: one poison request per this many events of the load.
	Every int `json:"every"`
	// LoadEvents: good events of the load while poison was sent.
	LoadEvents int `json:"load_events"`
	// PoisonEvents: poison requests sent (refused, conflicting, resent,
	// colliding pairs, events written straight into the log).
	PoisonEvents int `json:"poison_events"`
	Refused      int `json:"refused"`
	Conflicts    int `json:"conflicts"`
	Duplicates   int `json:"duplicates"`
	// CollidingPairs: pairs of formerly colliding events both applied and
	// scored exactly once.
	CollidingPairs int `json:"colliding_pairs_applied"`
	Quarantined    int `json:"quarantined"`
	// UnnamedPaths: 400 answers that did not name the expected path (not a
	// failure; the answer is in the kind's detail).
	UnnamedPaths int                 `json:"refusals_not_naming_the_path"`
	Kinds        []*PoisonKindResult `json:"kinds"`
	OK           bool                `json:"ok"`
	Failures     []string            `json:"failures,omitempty"`
}

// PoisonKindResult is one kind of poison.
type PoisonKindResult struct {
	Kind   string `json:"kind"`
	Expect string `json:"expect"`
	Route  string `json:"route"`
	Sent   int    `json:"sent"`
	OK     int    `json:"ok"`
	Failed int    `json:"failed"`
	// Detail: the first failure, or the first answer worth reading.
	Detail string `json:"detail,omitempty"`
}

// poisonIDs are the ids one poison instance uses.
type poisonIDs struct {
	event, contact string
	now            time.Time
}

// poisonKind is one kind of poison and how to send it.
type poisonKind struct {
	name   string
	expect string
	route  string
	// hint: the path a 400 should name (refused kinds).
	hint string
	// body of a refused kind's request.
	body func(ids poisonIDs) string
	// variant of the first event, for conflicts.
	variant func(orig wireEvent, fresh string) wireEvent
	// props and traits written straight into the log (quarantined kinds).
	props, traits string
}

// q is s as a JSON string.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func nativeBody(id, typ, contact, props string) string {
	return fmt.Sprintf(`{"batch":[{"id":%s,"type":%s,"contact_id":%s,"properties":%s}]}`, q(id), q(typ), q(contact), props)
}

func nativeTimed(id, typ, contact, props, ts string) string {
	return fmt.Sprintf(`{"batch":[{"id":%s,"type":%s,"contact_id":%s,"properties":%s,"timestamp":%s}]}`, q(id), q(typ), q(contact), props, q(ts))
}

func trackBody(id, contact, event, props string, ts string) string {
	extra := ""
	if ts != "" {
		extra = `,"timestamp":` + q(ts)
	}
	return fmt.Sprintf(`{"batch":[{"type":"track","messageId":%s,"userId":%s,"event":%s,"properties":%s%s}]}`, q(id), q(contact), q(event), props, extra)
}

func identifyBody1(id, contact, traits string) string {
	return fmt.Sprintf(`{"batch":[{"type":"identify","messageId":%s,"userId":%s,"traits":%s}]}`, q(id), q(contact), traits)
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func manyProps(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"p%d":%d`, i, i)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// ReservedTypes are the event types the engine raises itself; a client
// sending one with the ingest key must be refused. The list, plus
// any the flows package reserves besides.
var ReservedTypes = func() []string {
	out := []string{"contact_created", "field_changed", "tag_added", "tag_removed", "segment_entered", "segment_exited",
		"score_threshold_crossed", "date_field"}
	for _, t := range flows.DerivedEventTypes() {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}()

// conflictURL is the url of the first event of a conflict.
const conflictURL = "https://example.com/pricing"

// emailContact is the 300-byte email (and contact id) of a refused kind.
var emailContact = strings.Repeat("a", 288) + "@example.com"

// collisionRule is the engagement rule of model main whose ledger keys the
// colliding pairs share ("rule:<contact>:main:task-created:<event>").
const (
	collisionType = "task_created"
	collisionRule = "task-created"
)

// poisonKinds lists every kind, the ones that touch the engine first so
// that they meet the faults.
func poisonKinds() []*poisonKind {
	const ev, sg = "/v1/events", "/v1/batch"
	ks := []*poisonKind{
		{name: "number beyond float64 written straight into the log (properties)", expect: ExpectQuarantined, route: "SQL INSERT",
			props: `{"n": 1e400}`},
		{name: "colliding ledger keys (contact a + event b:main:task-created:c; contact a:main:task-created:b + event c)",
			expect: ExpectApplied, route: ev},
		{name: "same id, different properties", expect: ExpectConflict, route: ev, hint: "id",
			variant: func(o wireEvent, _ string) wireEvent {
				o.Properties = map[string]any{"url": "https://example.com/careers"}
				return o
			}},
		{name: "same id and content sent again (a client's resend)", expect: ExpectDuplicate, route: ev},
		{name: "same messageId, different properties (Segment: acknowledged, counted as a conflict, not stored)", expect: ExpectConflict, route: sg,
			variant: func(o wireEvent, _ string) wireEvent {
				o.Properties = map[string]any{"url": "https://example.com/careers"}
				return o
			}},
		{name: "number beyond float64 (1e400) in properties", expect: ExpectRefused, route: ev, hint: "properties.n",
			body: func(p poisonIDs) string { return nativeBody(p.event, "page_visited", p.contact, `{"n":1e400}`) }},
		{name: "NUL in a property string", expect: ExpectRefused, route: ev, hint: "properties.note",
			body: func(p poisonIDs) string {
				return nativeBody(p.event, "page_visited", p.contact, `{"url":"https://example.com/","note":"a\u0000b"}`)
			}},
		{name: "same id, different type", expect: ExpectConflict, route: ev, hint: "id",
			variant: func(o wireEvent, _ string) wireEvent { o.Type = "email_opened"; return o }},
		{name: "number beyond float64 written straight into the log (identify traits)", expect: ExpectQuarantined, route: "SQL INSERT",
			traits: `{"employees": 1e400}`},
		{name: "number beyond float64 (-1e400) in Segment track properties", expect: ExpectRefused, route: sg, hint: "properties.n",
			body: func(p poisonIDs) string { return trackBody(p.event, p.contact, "Video Played", `{"n":-1e400}`, "") }},
		{name: "number beyond float64 in Segment identify traits", expect: ExpectRefused, route: sg, hint: "traits.employees",
			body: func(p poisonIDs) string { return identifyBody1(p.event, p.contact, `{"employees":1e400}`) }},
		{name: "same id, different contact", expect: ExpectConflict, route: ev, hint: "id",
			variant: func(o wireEvent, fresh string) wireEvent { o.ContactID = fresh; return o }},
		{name: "NUL in a Segment trait", expect: ExpectRefused, route: sg, hint: "traits.title",
			body: func(p poisonIDs) string { return identifyBody1(p.event, p.contact, `{"title":"CEO\u0000"}`) }},
		{name: "control character in a property key", expect: ExpectRefused, route: ev, hint: "properties",
			body: func(p poisonIDs) string { return nativeBody(p.event, "page_visited", p.contact, `{"a\u0007b":1}`) }},
		{name: "NUL in the event type", expect: ExpectRefused, route: ev, hint: "type",
			body: func(p poisonIDs) string { return nativeBody(p.event, "page\u0000visited", p.contact, `{}`) }},
		{name: "control character in the event id", expect: ExpectRefused, route: ev, hint: "id",
			body: func(p poisonIDs) string { return nativeBody(p.event+"\u0001", "page_visited", p.contact, `{}`) }},
		{name: "contact id of 300 bytes", expect: ExpectRefused, route: ev, hint: "contact_id",
			body: func(p poisonIDs) string {
				return nativeBody(p.event, "page_visited", p.contact+strings.Repeat("x", 300-len(p.contact)), `{}`)
			}},
		{name: "contact id derived from an email of 300 bytes", expect: ExpectRefused, route: ev, hint: "email",
			body: func(p poisonIDs) string {
				return fmt.Sprintf(`{"batch":[{"id":%s,"type":"page_visited","email":%s,"properties":{}}]}`, q(p.event), q(emailContact))
			}},
		{name: "zero-width space in a Segment userId", expect: ExpectRefused, route: sg, hint: "userId",
			body: func(p poisonIDs) string { return trackBody(p.event, p.contact+"\u200b", "Video Played", `{}`, "") }},
		{name: "bidirectional override in the event id", expect: ExpectRefused, route: ev, hint: "id",
			body: func(p poisonIDs) string { return nativeBody(p.event+"\u202egnp.exe", "page_visited", p.contact, `{}`) }},
		{name: "properties nested 35 levels deep", expect: ExpectRefused, route: ev, hint: "properties",
			body: func(p poisonIDs) string {
				return nativeBody(p.event, "page_visited", p.contact, `{"deep":`+nested(34)+`}`)
			}},
		{name: "a body nested 100 levels deep", expect: ExpectRefused, route: ev, hint: "nested",
			body: func(p poisonIDs) string {
				return nativeBody(p.event, "page_visited", p.contact, `{"deep":`+nested(96)+`}`)
			}},
		{name: "201 properties", expect: ExpectRefused, route: ev, hint: "properties",
			body: func(p poisonIDs) string { return nativeBody(p.event, "page_visited", p.contact, manyProps(201)) }},
		{name: "string of 33 KiB", expect: ExpectRefused, route: ev, hint: "properties.text",
			body: func(p poisonIDs) string {
				return nativeBody(p.event, "page_visited", p.contact, `{"text":"`+strings.Repeat("x", 33*1024)+`"}`)
			}},
		{name: "timestamp before 2000", expect: ExpectRefused, route: ev, hint: "timestamp",
			body: func(p poisonIDs) string {
				return nativeTimed(p.event, "page_visited", p.contact, `{}`, "1999-12-31T23:59:59Z")
			}},
		{name: "timestamp 48 h ahead (Segment track)", expect: ExpectRefused, route: sg, hint: "timestamp",
			body: func(p poisonIDs) string {
				return trackBody(p.event, p.contact, "Video Played", `{}`, p.now.Add(48*time.Hour).UTC().Format(time.RFC3339))
			}},
		{name: "reserved type segment_entered as a Segment track (\"Segment Entered\")", expect: ExpectRefused, route: sg, hint: "event",
			body: func(p poisonIDs) string {
				return trackBody(p.event, p.contact, "Segment Entered", `{"segment":"hot-leads"}`, "")
			}},
	}
	for _, t := range ReservedTypes {
		ks = append(ks, &poisonKind{name: "reserved type " + t + " with the ingest key", expect: ExpectRefused, route: ev, hint: "type",
			body: func(p poisonIDs) string { return nativeBody(p.event, t, p.contact, `{}`) }})
	}
	return ks
}

// SelectPoison keeps the kinds named in sel: "all", "none", or a
// comma-separated list of expectations (refused, conflict, duplicate,
// applied, quarantined) and words of kind names ("1e400", "reserved").
func selectPoison(kinds []*poisonKind, sel string) ([]*poisonKind, error) {
	sel = strings.TrimSpace(sel)
	switch sel {
	case "", "all":
		return kinds, nil
	case "none":
		return nil, nil
	}
	var out []*poisonKind
	for _, w := range strings.Split(sel, ",") {
		w = strings.TrimSpace(w)
		found := false
		for _, k := range kinds {
			if k.expect == w || strings.Contains(k.name, w) {
				found = true
				if !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("--poison %q: no kind matches %q (use all, none, refused, conflict, duplicate, applied, quarantined or a word of a kind's name)", sel, w)
		}
	}
	return out, nil
}

// conflictCheck: after the run, event id must still have its first type
// and contact, and fresh (the variant's contact, if any) must not exist.
type conflictCheck struct {
	kind          *PoisonKindResult
	id, typ, cont string
	fresh         string
}

// collisionPair is two formerly colliding events.
type collisionPair struct {
	kind *PoisonKindResult
	a, b Event
}

// quarantineCase is an event written straight into the log.
type quarantineCase struct {
	kind  *PoisonKindResult
	id    string
	after string // the contact's next event, sent after it
}

// poisoner sends the poison of a run and checks what became of it.
type poisoner struct {
	r     *runner
	kinds []*poisonKind
	every int
	res   *PoisonResult
	byK   map[*poisonKind]*PoisonKindResult

	loadEvents atomic.Int64
	tick       chan struct{}
	flushc     chan struct{}
	done       chan struct{}
	sent       int // kinds sent so far (round robin)
	n          int // poison instances so far (ids)

	mu           sync.Mutex
	refusedIDs   []string
	refusedConts []string
	conflicts    []conflictCheck
	collisions   []collisionPair
	quarantine   []quarantineCase
}

func newPoisoner(r *runner, kinds []*poisonKind, every int) *poisoner {
	p := &poisoner{r: r, kinds: kinds, every: every, res: &PoisonResult{Every: every}, byK: map[*poisonKind]*PoisonKindResult{},
		tick: make(chan struct{}, 64), flushc: make(chan struct{}), done: make(chan struct{})}
	for _, k := range kinds {
		kr := &PoisonKindResult{Kind: k.name, Expect: k.expect, Route: k.route}
		p.byK[k] = kr
		p.res.Kinds = append(p.res.Kinds, kr)
	}
	return p
}

// source wraps the load's source: every p.every events it asks for one
// poison request.
func (p *poisoner) source(next func() (Event, bool)) func() (Event, bool) {
	return func() (Event, bool) {
		e, ok := next()
		if ok && p.every > 0 && p.loadEvents.Add(1)%int64(p.every) == 0 {
			select {
			case p.tick <- struct{}{}:
			default:
			}
		}
		return e, ok
	}
}

// run sends one poison kind per tick until flush is asked, then every kind
// not sent yet, and returns.
func (p *poisoner) run(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.tick:
			if len(p.kinds) > 0 {
				p.send(ctx, p.kinds[p.sent%len(p.kinds)])
				p.sent++
			}
		case <-p.flushc:
			for ; p.sent < len(p.kinds) && ctx.Err() == nil; p.sent++ {
				p.send(ctx, p.kinds[p.sent])
			}
			return
		}
	}
}

// flush sends the kinds not reached yet and waits until done.
func (p *poisoner) flush(ctx context.Context) {
	select {
	case p.flushc <- struct{}{}:
	case <-p.done:
	case <-ctx.Done():
		return
	}
	select {
	case <-p.done:
	case <-ctx.Done():
	}
}

func (p *poisoner) fail(kr *PoisonKindResult, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kr.Failed++
	if kr.Detail == "" {
		kr.Detail = fmt.Sprintf(format, args...)
	}
}

func (p *poisoner) ok(kr *PoisonKindResult) {
	p.mu.Lock()
	kr.OK++
	p.mu.Unlock()
}

func (p *poisoner) ids() poisonIDs {
	p.n++
	pre := p.r.w.Prefix
	return poisonIDs{event: fmt.Sprintf("%spx-e%04d", pre, p.n), contact: fmt.Sprintf("%spx-c%04d", pre, p.n), now: time.Now()}
}

// answer posts body until the API answers with something other than a
// sign that it or its database is down (no connection, 502-504, 408, 429;
// a 500 for at most 30 s) and returns that answer.
func (p *poisoner) answer(ctx context.Context, route string, body []byte) (int, []byte, error) {
	c := p.r.st.client
	deadline := time.Now().Add(faultTimeout)
	var first500 time.Time
	backoff := 50 * time.Millisecond
	for {
		code, ans, err := c.post(ctx, route, c.ingestKey, body)
		switch {
		case err != nil:
		case code == 500:
			if first500.IsZero() {
				first500 = time.Now()
			}
			if time.Since(first500) > 30*time.Second {
				return code, ans, nil
			}
		case code == 408 || code == 429 || code == 502 || code == 503 || code == 504:
		default:
			return code, ans, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("status %d", code)
			}
			return 0, nil, fmt.Errorf("POST %s: no answer after %s: %w", route, faultTimeout, err)
		}
		if err := sleepCtx(ctx, backoff); err != nil {
			return 0, nil, err
		}
		backoff = min(2*backoff, time.Second)
	}
}

// sendGood sends good events until acknowledged and records them for the
// reference; false when the API refused them (a failure of the kind).
func (p *poisoner) sendGood(ctx context.Context, kr *PoisonKindResult, evs ...Event) bool {
	sent, _, err := p.r.st.client.sendBatch(ctx, evs)
	if err != nil {
		if ctx.Err() == nil {
			p.fail(kr, "good events %s refused: %v", evs[0].ID, err)
		}
		return false
	}
	p.r.sent.add(sent)
	return true
}

// send sends one instance of a kind.
func (p *poisoner) send(ctx context.Context, k *poisonKind) {
	kr := p.byK[k]
	ids := p.ids()
	p.mu.Lock()
	kr.Sent++
	p.res.PoisonEvents++
	p.mu.Unlock()
	switch k.expect {
	case ExpectRefused:
		p.mu.Lock()
		// Every id a refused request holds starts with these.
		p.refusedIDs = append(p.refusedIDs, ids.event+"%")
		p.refusedConts = append(p.refusedConts, ids.contact+"%", emailContact)
		p.mu.Unlock()
		code, ans, err := p.answer(ctx, k.route, []byte(k.body(ids)))
		switch {
		case err != nil:
			if ctx.Err() == nil {
				p.fail(kr, "%v", err)
			}
		case code != http.StatusBadRequest:
			p.fail(kr, "expected 400, got %d: %s", code, truncate(string(ans), 300))
		default:
			p.ok(kr)
			if !strings.Contains(string(ans), k.hint) {
				p.mu.Lock()
				p.res.UnnamedPaths++
				if kr.Detail == "" {
					kr.Detail = fmt.Sprintf("400 without %q: %s", k.hint, truncate(string(ans), 300))
				}
				p.mu.Unlock()
			}
		}
	case ExpectConflict, ExpectDuplicate:
		orig := Event{ID: ids.event, ContactID: ids.contact, Type: "page_visited",
			Properties: map[string]any{"url": conflictURL}, Timestamp: ids.now.UTC().Format(time.RFC3339Nano)}
		if !p.sendGood(ctx, kr, orig) {
			return
		}
		body := eventsBody([]Event{orig})
		fresh := ""
		if k.variant != nil {
			fresh = ids.contact + "-other"
			w := k.variant(toWire(orig), fresh)
			if w.ContactID != fresh {
				fresh = ""
			}
			body, _ = json.Marshal(map[string]any{"batch": []wireEvent{w}})
			if k.route == "/v1/batch" {
				body, _ = json.Marshal(map[string]any{"batch": []map[string]any{{"type": "track", "messageId": w.ID, "userId": w.ContactID,
					"event": w.Type, "properties": w.Properties, "timestamp": w.Timestamp}}})
			}
		}
		code, ans, err := p.answer(ctx, k.route, body)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				p.fail(kr, "%v", err)
			}
		case k.expect == ExpectConflict && k.route == "/v1/batch":
			// Segment libraries expect messageId deduplication: acknowledged,
			// counted, nothing stored.
			var a acceptedAnswer
			if code/100 != 2 || json.Unmarshal(ans, &a) != nil || a.Conflicts != 1 || a.Accepted != 0 {
				p.fail(kr, "expected 2xx with conflicts 1, accepted 0; got %d: %s", code, truncate(string(ans), 300))
				return
			}
			p.ok(kr)
			p.mu.Lock()
			p.conflicts = append(p.conflicts, conflictCheck{kind: kr, id: orig.ID, typ: orig.Type, cont: orig.ContactID})
			p.mu.Unlock()
		case k.expect == ExpectConflict && code != http.StatusConflict:
			p.fail(kr, "expected 409, got %d: %s", code, truncate(string(ans), 300))
		case k.expect == ExpectConflict:
			p.ok(kr)
			if !strings.Contains(string(ans), ids.event) && kr.Detail == "" {
				p.mu.Lock()
				kr.Detail = "409 without the event id: " + truncate(string(ans), 300)
				p.mu.Unlock()
			}
			p.mu.Lock()
			p.conflicts = append(p.conflicts, conflictCheck{kind: kr, id: orig.ID, typ: orig.Type, cont: orig.ContactID, fresh: fresh})
			p.mu.Unlock()
		default:
			var a acceptedAnswer
			if code/100 != 2 || json.Unmarshal(ans, &a) != nil || a.Duplicates != 1 || a.Accepted != 0 {
				p.fail(kr, "expected 2xx with duplicates 1, accepted 0; got %d: %s", code, truncate(string(ans), 300))
				return
			}
			p.ok(kr)
		}
	case ExpectApplied:
		// rule:<a>:main:task-created:<x>:main:task-created:<c> for both.
		a := ids.contact
		x := fmt.Sprintf("k%04d", p.n)
		c := ids.event
		e1 := Event{ID: x + ":" + ModelMain + ":" + collisionRule + ":" + c, ContactID: a, Type: collisionType, Properties: map[string]any{}}
		e2 := Event{ID: c, ContactID: a + ":" + ModelMain + ":" + collisionRule + ":" + x, Type: collisionType, Properties: map[string]any{}}
		if !p.sendGood(ctx, kr, e1, e2) {
			return
		}
		p.mu.Lock()
		p.collisions = append(p.collisions, collisionPair{kind: kr, a: e1, b: e2})
		p.mu.Unlock()
	case ExpectQuarantined:
		ident := Event{ID: ids.event + "-identify", ContactID: ids.contact, Type: "identify", Traits: map[string]any{"role": "CEO"}}
		if !p.sendGood(ctx, kr, ident) {
			return
		}
		p.r.st.exclude(ids.event)
		if err := p.insertPoison(ctx, ids, k); err != nil {
			if ctx.Err() == nil {
				p.fail(kr, "writing the event into the log: %v", err)
			}
			return
		}
		next := Event{ID: ids.event + "-next", ContactID: ids.contact, Type: collisionType, Properties: map[string]any{}}
		if !p.sendGood(ctx, kr, next) {
			return
		}
		p.mu.Lock()
		p.quarantine = append(p.quarantine, quarantineCase{kind: kr, id: ids.event, after: next.ID})
		p.mu.Unlock()
	}
}

// acceptedAnswer is the part of POST /v1/events' answer the bench reads.
type acceptedAnswer struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Conflicts  int `json:"conflicts"`
}

// insertPoison writes a poison event straight into the event log, retried
// while PostgreSQL restarts.
func (p *poisoner) insertPoison(ctx context.Context, ids poisonIDs, k *poisonKind) error {
	typ, props, traits := "bench_poison", k.props, any(nil)
	if props == "" {
		props = "{}"
	}
	if k.traits != "" {
		typ, traits = "identify", k.traits
	}
	deadline := time.Now().Add(faultTimeout)
	for {
		_, err := p.r.st.pool.Exec(ctx, `INSERT INTO events (id, contact_id, partition, type, properties, traits, occurred_at)
			VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, now())`, ids.event, ids.contact, store.PartitionOf(ids.contact), typ, props, traits)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// check verifies, after the run has settled, what became of every poison
// event, and fills the result.
func (p *poisoner) check(ctx context.Context) error {
	res := p.res
	res.LoadEvents = int(p.loadEvents.Load())
	pool := p.r.st.pool
	// Refused: nothing of them stored.
	var stored, created int
	var example string
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE id LIKE ANY($1) OR contact_id LIKE ANY($2)),
		(SELECT count(*) FROM contacts WHERE id LIKE ANY($2)),
		coalesce((SELECT min(id || ' (' || type || ')') FROM events WHERE id LIKE ANY($1) OR contact_id LIKE ANY($2)), '')`,
		p.refusedIDs, p.refusedConts).Scan(&stored, &created, &example); err != nil {
		return fmt.Errorf("checking refused poison: %w", err)
	}
	if stored > 0 || created > 0 {
		res.Failures = append(res.Failures, fmt.Sprintf("%d refused events stored and %d contacts created by them, e.g. %s", stored, created, example))
	}
	// Conflicts: the first event as it was, the other contact not created.
	for _, c := range p.conflicts {
		var typ, cont, u string
		var fresh int
		if err := pool.QueryRow(ctx, `SELECT coalesce((SELECT type FROM events WHERE id = $1), ''), coalesce((SELECT contact_id FROM events WHERE id = $1), ''),
			coalesce((SELECT properties->>'url' FROM events WHERE id = $1), ''), (SELECT count(*) FROM contacts WHERE id = $2)`, c.id, c.fresh).Scan(&typ, &cont, &u, &fresh); err != nil {
			return fmt.Errorf("checking conflicting poison: %w", err)
		}
		if typ != c.typ || cont != c.cont || u != conflictURL || fresh > 0 {
			p.fail(c.kind, "event %s after the conflict: type %q contact %q url %q (first: %q, %q, %q); other contact created: %v",
				c.id, typ, cont, u, c.typ, c.cont, conflictURL, fresh > 0)
			c.kind.OK--
		}
	}
	// Colliding pairs: both applied, each scored once by the rule.
	for _, c := range p.collisions {
		var applied, ledger int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(applied_at) FROM events WHERE id = ANY($1)),
			(SELECT count(*) FROM score_ledger WHERE kind = 'engagement' AND model = $2 AND rule_id = $3
				AND ((contact_id = $4 AND event_id = $5) OR (contact_id = $6 AND event_id = $7)))`,
			[]string{c.a.ID, c.b.ID}, ModelMain, collisionRule, c.a.ContactID, c.a.ID, c.b.ContactID, c.b.ID).Scan(&applied, &ledger); err != nil {
			return fmt.Errorf("checking colliding poison: %w", err)
		}
		if applied != 2 || ledger != 2 {
			p.fail(c.kind, "pair %s / %s: %d of 2 applied, %d of 2 ledger entries of %s", c.a.ID, c.b.ID, applied, ledger, collisionRule)
			continue
		}
		p.ok(c.kind)
		res.CollidingPairs++
	}
	// Quarantined: listed by GET /v1/events/failed, the next event applied.
	if len(p.quarantine) > 0 {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			failed, err := p.r.st.client.failedEvents(ctx)
			missing := 0
			if err == nil {
				for _, qc := range p.quarantine {
					if _, ok := failed[qc.id]; !ok {
						missing++
					}
				}
			}
			if (err == nil && missing == 0) || time.Now().After(deadline) || ctx.Err() != nil {
				for _, qc := range p.quarantine {
					if err != nil {
						p.fail(qc.kind, "%v", err)
						continue
					}
					msg, ok := failed[qc.id]
					if !ok {
						p.fail(qc.kind, "event %s not listed by GET /v1/events/failed after 2 minutes", qc.id)
						continue
					}
					var applied int
					if err := pool.QueryRow(ctx, `SELECT count(applied_at) FROM events WHERE id = $1`, qc.after).Scan(&applied); err != nil {
						return err
					}
					if applied != 1 {
						p.fail(qc.kind, "the contact's next event %s was not applied after %s was quarantined", qc.after, qc.id)
						continue
					}
					p.ok(qc.kind)
					res.Quarantined++
					if qc.kind.Detail == "" {
						qc.kind.Detail = "error: " + truncate(msg, 200)
					}
				}
				break
			}
			if err := sleepCtx(ctx, time.Second); err != nil {
				return err
			}
		}
	}
	for _, kr := range res.Kinds {
		switch kr.Expect {
		case ExpectRefused:
			res.Refused += kr.OK
		case ExpectConflict:
			res.Conflicts += kr.OK
		case ExpectDuplicate:
			res.Duplicates += kr.OK
		}
		if kr.Sent == 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("%s: never sent", kr.Kind))
		}
		if kr.Failed > 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("%s (expected %s): %d of %d failed: %s", kr.Kind, kr.Expect, kr.Failed, kr.Sent, kr.Detail))
		}
	}
	res.OK = len(res.Failures) == 0
	return nil
}

// failedEvents reads GET /v1/events/failed (admin key): event id → error.
// It accepts a top-level array or an object holding one array of events,
// and follows a "next" cursor if the answer has one.
func (c *apiClient) failedEvents(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	path := "/v1/events/failed?limit=1000"
	for page := 0; page < 100 && path != ""; page++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+c.adminKey)
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET /v1/events/failed: %w", err)
		}
		var raw json.RawMessage
		err = json.NewDecoder(resp.Body).Decode(&raw)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /v1/events/failed: status %d (is the quarantine built?): %s", resp.StatusCode, truncate(string(raw), 200))
		}
		if err != nil {
			return nil, fmt.Errorf("GET /v1/events/failed: %w", err)
		}
		var items []map[string]any
		path = ""
		if json.Unmarshal(raw, &items) != nil {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(raw, &obj); err != nil {
				return nil, fmt.Errorf("GET /v1/events/failed: unexpected answer %s", truncate(string(raw), 200))
			}
			for k, v := range obj {
				var list []map[string]any
				if json.Unmarshal(v, &list) == nil && len(list) > 0 {
					items = append(items, list...)
				}
				if k == "next" || k == "next_cursor" || k == "cursor" {
					var cur string
					if json.Unmarshal(v, &cur) == nil && cur != "" {
						if strings.HasPrefix(cur, "/") {
							path = cur
						} else {
							path = "/v1/events/failed?limit=1000&cursor=" + url.QueryEscape(cur)
						}
					}
				}
			}
		}
		for _, it := range items {
			id, _ := it["id"].(string)
			if id == "" {
				id, _ = it["event_id"].(string)
			}
			msg, _ := it["error"].(string)
			if id != "" {
				out[id] = msg
			}
		}
	}
	return out, nil
}
