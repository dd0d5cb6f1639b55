package api_test

// The edge: what every ingestion route refuses (issue #8 items 2-4), through
// the HTTP handler with a real PostgreSQL store.

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
)

// ingestRoute is one ingestion route and where a test puts its values.
type ingestRoute struct {
	name   string
	path   string
	key    string                           // the key the route is called with
	obj    string                           // the member holding free-form values
	prefix string                           // the bad message's path in the request
	build  func(msg map[string]any) any     // wraps the (bad) message into a body
	base   func() map[string]any            // a valid message
	ids    map[string]string                // id kind (contact, event, account) → member
	seg    bool                             // a Segment route (timestamps, userId)
	typeOf func(m map[string]any, t string) // sets the event type, when the route has one
}

func single(msg map[string]any) any { return msg }

func ingestRoutes() []ingestRoute {
	nativeBase := func() map[string]any {
		return map[string]any{"id": "e-bad", "type": "page_visited", "contact_id": "c1"}
	}
	nativeType := func(m map[string]any, t string) { m["type"] = t }
	trackType := func(m map[string]any, t string) { m["event"] = t }
	seg := func(typ string, extra map[string]any) func() map[string]any {
		return func() map[string]any {
			m := map[string]any{"userId": "u1", "messageId": "m-bad"}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
	}
	segIDs := map[string]string{"contact": "userId", "event": "messageId"}
	return []ingestRoute{
		{name: "events", path: "/v1/events", key: ingestKey, obj: "properties", build: single, base: nativeBase,
			ids: map[string]string{"contact": "contact_id", "event": "id"}, typeOf: nativeType},
		{name: "events batch", path: "/v1/events", key: ingestKey, obj: "properties", prefix: "batch[1]",
			build: func(msg map[string]any) any {
				return map[string]any{"batch": []any{map[string]any{"id": "e-good", "type": "email_opened", "contact_id": "c0"}, msg}}
			}, base: nativeBase, ids: map[string]string{"contact": "contact_id", "event": "id"}, typeOf: nativeType},
		{name: "contacts", path: "/v1/contacts", key: adminKey, obj: "fields", build: single,
			base: func() map[string]any { return map[string]any{"contact_id": "c1", "event_id": "e-bad"} },
			ids:  map[string]string{"contact": "contact_id", "event": "event_id", "account": "account_id"}},
		{name: "track", path: "/v1/track", key: ingestKey, obj: "properties", build: single,
			base: seg("track", map[string]any{"event": "Clicked"}), ids: segIDs, seg: true, typeOf: trackType},
		{name: "identify", path: "/v1/identify", key: ingestKey, obj: "traits", build: single,
			base: seg("identify", nil), ids: segIDs, seg: true},
		{name: "page", path: "/v1/page", key: ingestKey, obj: "properties", build: single,
			base: seg("page", map[string]any{"name": "Home"}), ids: segIDs, seg: true},
		{name: "screen", path: "/v1/screen", key: ingestKey, obj: "properties", build: single,
			base: seg("screen", map[string]any{"name": "Home"}), ids: segIDs, seg: true},
		{name: "group", path: "/v1/group", key: ingestKey, obj: "traits", build: single,
			base: seg("group", map[string]any{"groupId": "acme"}),
			ids:  map[string]string{"contact": "userId", "event": "messageId", "account": "groupId"}, seg: true},
		{name: "alias", path: "/v1/alias", key: ingestKey, obj: "context", build: single,
			base: seg("alias", map[string]any{"previousId": "anon-1"}),
			ids:  map[string]string{"contact": "userId", "event": "messageId", "account": "previousId"}, seg: true},
		{name: "batch", path: "/v1/batch", key: ingestKey, obj: "properties", prefix: "batch[1]",
			build: func(msg map[string]any) any {
				msg["type"] = "track"
				return map[string]any{"batch": []any{
					map[string]any{"type": "track", "userId": "u0", "event": "Ok", "messageId": "m-good"}, msg}}
			}, base: seg("track", map[string]any{"event": "Clicked"}), ids: segIDs, seg: true, typeOf: trackType},
	}
}

func (rt ingestRoute) at(rel string) string {
	switch {
	case rt.prefix == "":
		return rel
	case strings.HasPrefix(rel, "["):
		return rt.prefix + rel
	}
	return rt.prefix + "." + rel
}

// send posts the route's body built around msg.
func (e *env) sendRoute(rt ingestRoute, msg map[string]any) resp {
	e.t.Helper()
	return e.do("POST", rt.path, rt.key, rt.build(msg))
}

// refused asserts a 400 naming path that stored nothing.
func (e *env) refused(r resp, path, what string) {
	e.t.Helper()
	require.Equal(e.t, 400, r.code, "%s: %s", what, r.body)
	msg, details := r.errBody(e.t)
	require.Contains(e.t, detailPaths(details), path, "%s: %s", what, r.body)
	require.Contains(e.t, msg, "nothing of this request was stored", what)
	require.Equal(e.t, 0, e.count(`SELECT count(*) FROM events`), "%s: nothing stored", what)
}

func nested(levels int) map[string]any {
	// levels objects in all: the outermost is the properties object.
	inner := map[string]any{"leaf": 1}
	for i := 1; i < levels; i++ {
		inner = map[string]any{"d": inner}
	}
	return inner
}

func manyKeys(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[fmt.Sprintf("k%03d", i)] = i
	}
	return m
}

// Every value limit on every ingestion route: the value inside the route's
// free-form object is refused with its path, and a value just within the
// limit is accepted.
func TestEdgeValueLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		obj  map[string]any // the free-form object
		path string         // relative to the object
		ok   map[string]any // the same limit, just within
	}{
		{"poison number", map[string]any{"n": json.RawMessage("1e400")}, ".n", map[string]any{"n": json.RawMessage("-1.5e15")}},
		{"integer past 2^53", map[string]any{"n": json.RawMessage("9007199254740993")}, ".n", map[string]any{"n": json.RawMessage("-9007199254740991")}},
		{"underflow", map[string]any{"n": json.RawMessage("1e-400")}, ".n", map[string]any{"n": json.RawMessage("0.30000000000000004")}},
		{"NUL byte", map[string]any{"s": "a\x00b"}, ".s", map[string]any{"s": "tab\tnew line\n"}},
		{"control character", map[string]any{"s": "bell\x07"}, ".s", map[string]any{"s": "é ü 中文 🙂"}},
		{"NUL in a key", map[string]any{"a\x00b": 1}, `["a\x00b"]`, map[string]any{"a b": 1}},
		{"NUL deep in an array", map[string]any{"list": []any{"ok", map[string]any{"x": "\x00"}}}, ".list[1].x", map[string]any{"list": []any{"ok"}}},
		{"depth 33", nested(33), "." + strings.Repeat("d.", 31) + "d", nested(32)},
		{"201 properties", manyKeys(201), "", manyKeys(200)},
		{"string of 32 KiB + 1", map[string]any{"s": strings.Repeat("a", 32<<10+1)}, ".s", map[string]any{"s": strings.Repeat("a", 32<<10)}},
		{"key of 257 bytes", map[string]any{strings.Repeat("k", 257): 1}, "." + strings.Repeat("k", 257), map[string]any{strings.Repeat("k", 256): 1}},
	}
	for _, rt := range ingestRoutes() {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for _, c := range cases {
				msg := rt.base()
				msg[rt.obj] = c.obj
				e.refused(e.sendRoute(rt, msg), rt.at(rt.obj+c.path), c.name)
			}
			for i, c := range cases {
				msg := rt.base()
				msg[rt.obj] = c.ok
				if c.name == "201 properties" && (rt.name == "page" || rt.name == "screen") {
					// The limit is on the stored object, which also holds
					// name, url and screen.
					msg[rt.obj] = manyKeys(197)
				}
				for _, k := range []string{"id", "event_id", "messageId"} {
					if _, ok := msg[k]; ok {
						msg[k] = fmt.Sprintf("ok-%d", i)
					}
				}
				r := e.sendRoute(rt, msg)
				require.Less(t, r.code, 300, "%s within the limit: %s", c.name, r.body)
			}
		})
	}
}

// Ids: too long (including a contact id derived from a 1,000-character
// email), control, zero-width and bidirectional-override characters, on
// every route and every id the route reads.
func TestEdgeIDs(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"257 bytes":     strings.Repeat("x", 257),
		"zero-width":    "ana\u200bsmith",
		"word joiner":   "ana\u2060",
		"BOM":           "\ufeffana",
		"bidi override": "ana\u202etxt.exe",
		"bidi isolate":  "\u2066ana",
		"control":       "ana\x01",
		"NUL":           "ana\x00",
		"line feed":     "ana\nbob",
	}
	longEmail := strings.Repeat("a", 988) + "@example.com" // 1,000 characters
	for _, rt := range ingestRoutes() {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for kind, member := range rt.ids {
				for name, id := range bad {
					msg := rt.base()
					msg[member] = id
					e.refused(e.sendRoute(rt, msg), rt.at(member), kind+" id "+name)
				}
				msg := rt.base()
				msg[member] = strings.Repeat("é", 128) // 256 bytes
				r := e.sendRoute(rt, msg)
				require.Less(t, r.code, 300, "%s id of 256 bytes: %s", kind, r.body)
				e.exec(`DELETE FROM events`)
			}
			msg := rt.base()
			switch {
			case rt.obj == "traits" && rt.name == "identify":
				msg["traits"] = map[string]any{"email": longEmail}
				e.refused(e.sendRoute(rt, msg), rt.at("traits.email"), "1,000-character email")
			case !rt.seg:
				delete(msg, "contact_id")
				msg["email"] = longEmail
				e.refused(e.sendRoute(rt, msg), rt.at("email"), "1,000-character email")
			}
		})
	}
}

// Event times before 2000 or more than 24 h ahead are refused on every
// route that reads a time.
func TestEdgeTimestamps(t *testing.T) {
	t.Parallel()
	for _, rt := range ingestRoutes() {
		if rt.name == "contacts" {
			continue // a contact upsert happens now
		}
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for _, ts := range []string{"1999-12-31T23:59:59Z", e.now.Add(25 * time.Hour).Format(time.RFC3339)} {
				msg := rt.base()
				msg["timestamp"] = ts
				e.refused(e.sendRoute(rt, msg), rt.at("timestamp"), ts)
			}
			if rt.seg {
				msg := rt.base()
				msg["originalTimestamp"] = "1970-01-01T00:00:00Z"
				e.refused(e.sendRoute(rt, msg), rt.at("originalTimestamp"), "originalTimestamp 1970")
			}
			msg := rt.base()
			msg["timestamp"] = e.now.Add(23 * time.Hour).Format(time.RFC3339)
			r := e.sendRoute(rt, msg)
			require.Less(t, r.code, 300, string(r.body))
		})
	}
}

// Invalid UTF-8 and a body nested too deep (in a field leadflow ignores)
// are refused before anything is decoded.
func TestEdgeMalformedBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, rt := range ingestRoutes() {
		r := e.do("POST", rt.path, rt.key, []byte("{\"userId\": \"u\xff\", \"contact_id\": \"c\", \"type\": \"x\", \"event\": \"x\"}"))
		require.Equal(t, 400, r.code, rt.name)
		msg, _ := r.errBody(t)
		require.Contains(t, msg, "invalid UTF-8", rt.name)
	}
	deep := strings.Repeat(`{"a":`, 41) + "1" + strings.Repeat("}", 41)
	r := e.do("POST", "/v1/track", ingestKey, `{"userId": "u", "event": "x", "integrations": `+deep+`}`)
	require.Equal(t, 400, r.code, string(r.body))
	msg, _ := r.errBody(t)
	require.Contains(t, msg, "nested deeper than 40 levels")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))
}

// One request with three bad events names all three and stores none of the
// good ones.
func TestEdgeBatchNamesEveryBadEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := func(i int) map[string]any {
		return map[string]any{"id": fmt.Sprintf("g%d", i), "type": "page_visited", "contact_id": "c1"}
	}
	batch := []any{good(0), good(1), good(2), good(3), good(4)}
	batch[1].(map[string]any)["properties"] = map[string]any{"n": json.RawMessage("1e400")}
	batch[2].(map[string]any)["contact_id"] = "c\u200b1"
	batch[4].(map[string]any)["type"] = "Segment Entered"
	r := e.do("POST", "/v1/events", ingestKey, map[string]any{"batch": batch})
	require.Equal(t, 400, r.code, string(r.body))
	msg, details := r.errBody(t)
	require.Equal(t, []string{"batch[1].properties.n", "batch[2].contact_id", "batch[4].type"}, detailPaths(details))
	require.Contains(t, msg, "batch[1].properties.n")
	require.Contains(t, msg, "and 2 more problems")
	require.Contains(t, msg, "nothing of this request was stored")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))

	// The same through the Segment batch route.
	r = e.do("POST", "/v1/batch", ingestKey, `{"batch": [
		{"type": "track", "userId": "u", "event": "Ok", "messageId": "s0"},
		{"type": "track", "userId": "u", "event": "Ok", "messageId": "s1", "properties": {"s": "\u0000"}},
		{"type": "identify", "userId": "u", "messageId": "s2", "traits": {"n": 1e400}},
		{"type": "page", "userId": "u", "messageId": "s3"},
		{"type": "track", "userId": "u", "event": "Tag Added", "messageId": "s4"}]}`)
	require.Equal(t, 400, r.code, string(r.body))
	msg, details = r.errBody(t)
	require.Equal(t, []string{"batch[1].properties.s", "batch[2].traits.n", "batch[4].event"}, detailPaths(details))
	require.Contains(t, msg, "and 2 more problems")
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))

	// 1,000 events each with a NUL byte (once a 500 that Segment libraries
	// resend for ever): a 400 counting all of them, showing the first 100.
	refused := e.metric(`leadflow_ingest_requests_refused_total{source="segment"}`)
	var msgs []string
	for i := range 1000 {
		msgs = append(msgs, fmt.Sprintf(`{"type": "track", "userId": "u", "event": "x", "messageId": "n%d", "properties": {"s": "a\u0000b"}}`, i))
	}
	r = e.do("POST", "/v1/batch", ingestKey, `{"batch": [`+strings.Join(msgs, ",")+`]}`)
	require.Equal(t, 400, r.code, string(r.body))
	msg, details = r.errBody(t)
	require.Contains(t, msg, "batch[0].properties.s: must not contain NUL")
	require.Contains(t, msg, "and 999 more problems")
	require.Len(t, details, 101)
	require.Equal(t, "batch[99].properties.s", details[99]["path"])
	require.Equal(t, "900 more problems not shown", details[100]["message"])
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))
	require.GreaterOrEqual(t, e.metric(`leadflow_ingest_requests_refused_total{source="segment"}`)-refused, 1.0, "counted (other tests run in parallel)")
}

// Every event type the engine raises itself is refused from clients, on
// every route that takes a type, whatever its spelling.
func TestEdgeReservedTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	spellings := func(typ string) []string {
		words := strings.Split(typ, "_")
		title := make([]string, len(words))
		for i, w := range words {
			title[i] = strings.ToUpper(w[:1]) + w[1:]
		}
		return []string{typ, strings.Join(title, " "), strings.ToUpper(typ)}
	}
	reserved := flows.DerivedEventTypes()
	for _, want := range []string{"contact_created", "field_changed", "tag_added", "tag_removed", "segment_entered",
		"segment_exited", "score_threshold_crossed", "date_field", "score_changed"} {
		require.Contains(t, reserved, want)
	}
	for _, rt := range ingestRoutes() {
		if rt.typeOf == nil {
			continue
		}
		member := "type"
		if rt.seg {
			member = "event"
		}
		for _, typ := range reserved {
			for _, spelled := range spellings(typ) {
				for _, key := range []string{ingestKey, adminKey} {
					msg := rt.base()
					rt.typeOf(msg, spelled)
					r := e.do("POST", rt.path, key, rt.build(msg))
					e.refused(r, rt.at(member), rt.name+" "+spelled)
					_, details := r.errBody(t)
					require.Contains(t, details[0]["message"], fmt.Sprintf("%q", typ), "the message names the type")
				}
			}
		}
	}
}

// Removing tags and writing account traits need the admin key, on every
// route a client could carry them on.
func TestEdgeAdminOnlyChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct {
		path string
		body string
		bad  string
	}{
		{"/v1/events", `{"type": "identify", "contact_id": "c1", "properties": {"remove_tags": ["vip"]}}`, "properties.remove_tags"},
		{"/v1/events", `{"type": "group", "contact_id": "c1", "properties": {"account_traits": {"plan": "free"}}}`, "properties.account_traits"},
		{"/v1/track", `{"userId": "c1", "event": "Identify", "properties": {"remove_tags": ["vip"]}}`, "properties.remove_tags"},
		{"/v1/batch", `{"batch": [{"type": "track", "userId": "c1", "event": "group", "properties": {"account_traits": {}}}]}`, "batch[0].properties.account_traits"},
	} {
		e.refused(e.do("POST", c.path, ingestKey, c.body), c.bad, c.body)
		r := e.do("POST", c.path, adminKey, c.body)
		require.Less(t, r.code, 300, "%s with the admin key: %s", c.body, r.body)
		e.exec(`DELETE FROM events`)
	}
	// POST /v1/contacts (remove_tags) is admin-only as a whole.
	r := e.do("POST", "/v1/contacts", ingestKey, `{"contact_id": "c1", "remove_tags": ["vip"]}`)
	require.Equal(t, 403, r.code)

	// A Segment group call with the ingest key links the contact to the
	// account but its traits are not applied, and the answer says so.
	group := `{"userId": "c1", "groupId": "acme", "messageId": "g-ingest", "traits": {"name": "Evil Corp", "plan": "enterprise"}}`
	r = e.do("POST", "/v1/group", ingestKey, group)
	require.Equal(t, 200, r.code, string(r.body))
	var body struct {
		Accepted int      `json:"accepted"`
		Ignored  []detail `json:"ignored"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Equal(t, 1, body.Accepted)
	require.Len(t, body.Ignored, 1)
	require.Equal(t, "traits", body.Ignored[0].Path)
	ev := e.event("g-ingest")
	require.Equal(t, "acme", *ev.AccountID)
	require.Empty(t, ev.Properties, "no account_traits with the ingest key")

	r = e.do("POST", "/v1/group", adminKey, strings.Replace(group, "g-ingest", "g-admin", 1))
	require.Equal(t, 200, r.code, string(r.body))
	require.Equal(t, map[string]any{"account_traits": map[string]any{"name": "Evil Corp", "plan": "enterprise"}}, e.event("g-admin").Properties)
}

type detail struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// The same id with the same content is a duplicate; with another type,
// contact or content a conflict: 409 on /v1/events (nothing of the request
// stored), skipped and counted on the Segment routes.
func TestEdgeEventIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := map[string]any{"id": "e1", "type": "page_visited", "contact_id": "c1", "properties": map[string]any{"url": "/a", "n": 1}}
	r := e.do("POST", "/v1/events", ingestKey, first)
	require.Equal(t, 202, r.code, string(r.body))

	// Same content, numbers spelled differently, keys in another order, a
	// later timestamp (a resend): a duplicate.
	r = e.do("POST", "/v1/events", ingestKey, `{"properties": {"n": 1.0, "url": "/a"}, "contact_id": "c1", "type": "page_visited", "id": "e1",
		"timestamp": "2025-03-01T11:00:00Z"}`)
	require.Equal(t, 202, r.code, string(r.body))
	require.EqualValues(t, 1, r.json(t)["duplicates"])

	before := e.metric(`leadflow_events_conflicts_total{source="events"}`)
	for name, change := range map[string]func(m map[string]any){
		"type":       func(m map[string]any) { m["type"] = "email_opened" },
		"contact":    func(m map[string]any) { m["contact_id"] = "c2" },
		"properties": func(m map[string]any) { m["properties"] = map[string]any{"url": "/b", "n": 1} },
		"email":      func(m map[string]any) { m["email"] = "c1@example.com" },
	} {
		m := map[string]any{}
		for k, v := range first {
			m[k] = v
		}
		change(m)
		// In a batch with a new event: nothing of the request is stored.
		r := e.do("POST", "/v1/events", ingestKey, map[string]any{"batch": []any{
			map[string]any{"id": "new-" + name, "type": "email_opened", "contact_id": "c9"}, m}})
		require.Equal(t, 409, r.code, "%s: %s", name, r.body)
		msg, details := r.errBody(t)
		require.Contains(t, msg, `"e1"`)
		require.Equal(t, []string{"batch[1].id"}, detailPaths(details))
		require.Equal(t, 0, e.count(`SELECT count(*) FROM events WHERE id = $1`, "new-"+name), name)
	}
	require.Equal(t, 4.0, e.metric(`leadflow_events_conflicts_total{source="events"}`)-before)
	stored := e.event("e1")
	require.Equal(t, "page_visited", stored.Type)
	require.Equal(t, "c1", stored.ContactID)

	// An id reused inside one request is compared with its first use.
	r = e.do("POST", "/v1/events", ingestKey, map[string]any{"batch": []any{
		map[string]any{"id": "twice", "type": "a", "contact_id": "c1"},
		map[string]any{"id": "twice", "type": "b", "contact_id": "c1"}}})
	require.Equal(t, 409, r.code, string(r.body))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events WHERE id = 'twice'`))

	// Generated ids never conflict.
	for range 2 {
		r = e.do("POST", "/v1/events", ingestKey, map[string]any{"type": "a", "contact_id": "c1"})
		require.Equal(t, 202, r.code)
		require.EqualValues(t, 1, r.json(t)["accepted"])
	}

	// POST /v1/contacts: an event_id reused for other changes is a 409.
	r = e.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "c5", "event_id": "up-1", "fields": map[string]any{"plan": "pro"}})
	require.Equal(t, 202, r.code, string(r.body))
	r = e.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "c5", "event_id": "up-1", "fields": map[string]any{"plan": "free"}})
	require.Equal(t, 409, r.code, string(r.body))
	_, details := r.errBody(t)
	require.Equal(t, []string{"event_id"}, detailPaths(details))

	// Segment: the conflicting message is acknowledged (200, as Segment
	// does), counted and not stored; the rest of the batch is.
	post := func(body string) resp {
		req := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(body))
		req.SetBasicAuth(ingestKey, "")
		return e.send(req)
	}
	r = post(`{"batch": [{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m1", "properties": {"plan": "pro"}}]}`)
	require.Equal(t, 200, r.code, string(r.body))
	segBefore := e.metric(`leadflow_events_conflicts_total{source="segment"}`)
	r = post(`{"batch": [
		{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m1", "properties": {"plan": "free"}},
		{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m1", "properties": {"plan": "pro"}},
		{"type": "track", "userId": "u1", "event": "Upgraded", "messageId": "m2"}]}`)
	require.Equal(t, 200, r.code, string(r.body))
	m := r.json(t)
	require.EqualValues(t, 1, m["accepted"])
	require.EqualValues(t, 1, m["duplicates"])
	require.EqualValues(t, 1, m["conflicts"])
	require.Equal(t, 1.0, e.metric(`leadflow_events_conflicts_total{source="segment"}`)-segBefore)
	require.Equal(t, map[string]any{"plan": "pro"}, e.event("m1").Properties, "the first stays")
	require.Equal(t, "upgraded", e.event("m2").Type)
}
