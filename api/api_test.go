package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

const (
	adminKey  = "admin-secret"
	ingestKey = "ingest-secret"
)

// fakeWaker stands in for the engine's partition workflows: it records the
// partitions it is asked to wake and may run a hook (e.g. apply events).
type fakeWaker struct {
	mu     sync.Mutex
	calls  [][]int
	onWake func(ctx context.Context, partitions []int)
}

func (f *fakeWaker) Wake(ctx context.Context, partitions []int) {
	f.mu.Lock()
	f.calls = append(f.calls, append([]int(nil), partitions...))
	hook := f.onWake
	f.mu.Unlock()
	if hook != nil {
		hook(ctx, partitions)
	}
}

func (f *fakeWaker) calledTimes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeWaker) woken() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[int]bool{}
	var out []int
	for _, c := range f.calls {
		for _, p := range c {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Ints(out)
	return out
}

type env struct {
	t     *testing.T
	h     http.Handler
	store *store.Store
	waker *fakeWaker
	now   time.Time
}

func newEnv(t *testing.T, tweak ...func(*api.Config)) *env {
	t.Helper()
	st := storetest.NewStore(t)
	e := &env{t: t, store: st, waker: &fakeWaker{}, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	cfg := api.Config{
		Store:       st,
		Waker:       e.waker,
		AdminKey:    adminKey,
		IngestKey:   ingestKey,
		Now:         func() time.Time { return e.now },
		ContactWait: 200 * time.Millisecond,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	e.h = api.New(cfg)
	return e
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// errBody decodes an error response.
func (r resp) errBody(t *testing.T) (string, []map[string]string) {
	t.Helper()
	var b struct {
		Error   string              `json:"error"`
		Details []map[string]string `json:"details"`
	}
	require.NoError(t, json.Unmarshal(r.body, &b), "body: %s", r.body)
	return b.Error, b.Details
}

func detailPaths(details []map[string]string) []string {
	var out []string
	for _, d := range details {
		out = append(out, d["path"])
	}
	return out
}

// do sends a request with the key as a Bearer token ("" for none).
func (e *env) do(method, path, key string, body any) resp {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		r = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, r)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) resp {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return resp{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// metric reads one series from /metrics.
func (e *env) metric(series string) float64 {
	e.t.Helper()
	r := e.do("GET", "/metrics", adminKey, nil)
	require.Equal(e.t, 200, r.code)
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(e.t, err)
			return f
		}
	}
	e.t.Fatalf("series %s not in /metrics", series)
	return 0
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	_, err := e.store.Pool.Exec(context.Background(), sql, args...)
	require.NoError(e.t, err)
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.store.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// event reads one stored event back.
type storedEvent struct {
	ContactID  string
	Type       string
	Properties map[string]any
	Email      *string
	Traits     map[string]any
	Tags       []string
	AccountID  *string
	OccurredAt time.Time
}

func (e *env) event(id string) storedEvent {
	e.t.Helper()
	var ev storedEvent
	err := e.store.Pool.QueryRow(context.Background(), `SELECT contact_id, type, properties, email, traits, tags, account_id, occurred_at
		FROM events WHERE id = $1`, id).Scan(&ev.ContactID, &ev.Type, &ev.Properties, &ev.Email, &ev.Traits, &ev.Tags, &ev.AccountID, &ev.OccurredAt)
	require.NoError(e.t, err, "event %q", id)
	return ev
}

func (e *env) addContact(id, email string, partitionAccount ...string) {
	e.t.Helper()
	var account any
	if len(partitionAccount) > 0 {
		account = partitionAccount[0]
		e.exec(`INSERT INTO accounts (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, account, "Account "+partitionAccount[0])
	}
	e.exec(`INSERT INTO contacts (id, email, partition, account_id) VALUES ($1, $2, $3, $4)`, id, email, store.PartitionOf(id), account)
}

func (e *env) addScore(contactID, model string, score float64, band string) {
	e.t.Helper()
	e.exec(`INSERT INTO scores (contact_id, model, score, profile, engagement, band) VALUES ($1, $2, $3, 0, $3, $4)`,
		contactID, model, score, band)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ev := map[string]any{"id": "a1", "type": "signup", "contact_id": "c1"}

	r := e.do("POST", "/v1/events", "", ev)
	require.Equal(t, 401, r.code)
	require.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
	msg, _ := r.errBody(t)
	require.Contains(t, msg, "missing API key")

	r = e.do("POST", "/v1/events", "wrong", ev)
	require.Equal(t, 401, r.code)
	require.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")

	// The ingest key sends events but reads nothing.
	require.Equal(t, 202, e.do("POST", "/v1/events", ingestKey, ev).code)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/leads"}, {"GET", "/v1/contacts/c1"}, {"GET", "/v1/contacts/c1/score-history"}, {"GET", "/v1/tasks"},
		{"GET", "/v1/accounts/a"}, {"POST", "/v1/contacts"}, {"GET", "/v1/definitions"}, {"POST", "/v1/definitions"},
		{"GET", "/v1/definitions/x"}, {"POST", "/v1/definitions/x/pause"}, {"POST", "/v1/definitions/x/resume"},
	} {
		r := e.do(rt.method, rt.path, ingestKey, "{}")
		require.Equal(t, 403, r.code, "%s %s", rt.method, rt.path)
		msg, _ := r.errBody(t)
		require.Contains(t, msg, "admin key")
	}
	// The admin key does everything.
	require.Equal(t, 202, e.do("POST", "/v1/events", adminKey, ev).code)
	require.Equal(t, 200, e.do("GET", "/v1/leads", adminKey, nil).code)

	// Basic auth with the key as user name (Segment's write key), any password.
	req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(`{"type": "signup", "contact_id": "c1"}`))
	req.SetBasicAuth(ingestKey, "")
	require.Equal(t, 202, e.send(req).code)
	req = httptest.NewRequest("GET", "/v1/leads", nil)
	req.SetBasicAuth(adminKey, "")
	require.Equal(t, 200, e.send(req).code)
	req = httptest.NewRequest("POST", "/v1/track", strings.NewReader(`{"userId": "u", "event": "x"}`))
	req.SetBasicAuth("nope", "")
	require.Equal(t, 401, e.send(req).code)

	// Public routes need no key.
	r = e.do("GET", "/healthz", "", nil)
	require.Equal(t, 200, r.code)
	require.Equal(t, "ok", r.json(t)["status"])
	require.Equal(t, 200, e.do("GET", "/readyz", "", nil).code)
	r = e.do("GET", "/metrics", adminKey, nil)
	require.Equal(t, 200, r.code)
	require.Contains(t, string(r.body), "leadflow_events_accepted_total")
	require.Contains(t, string(r.body), "leadflow_http_request_seconds")
	r = e.do("GET", "/openapi.yaml", "", nil)
	require.Equal(t, 200, r.code)
	require.True(t, strings.HasPrefix(string(r.body), "openapi: 3.1"))
	require.Equal(t, api.OpenAPI(), r.body)
}

func TestEmptyKeysMatchNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.IngestKey = "" })
	req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(`{"type": "x", "contact_id": "c"}`))
	req.Header.Set("Authorization", "Bearer ")
	require.Equal(t, 401, e.send(req).code)
	req = httptest.NewRequest("POST", "/v1/events", strings.NewReader(`{"type": "x", "contact_id": "c"}`))
	req.SetBasicAuth("", "")
	require.Equal(t, 401, e.send(req).code)
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.MaxBodyBytes = 1024 })
	big := fmt.Sprintf(`{"type": "x", "contact_id": "c", "properties": {"pad": %q}}`, strings.Repeat("x", 2000))
	r := e.do("POST", "/v1/events", ingestKey, big)
	require.Equal(t, 413, r.code)
	msg, _ := r.errBody(t)
	require.Contains(t, msg, "1024 bytes")

	// Without a Content-Length (chunked), the limit holds while reading.
	req := httptest.NewRequest("POST", "/v1/events", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+ingestKey)
	require.Equal(t, 413, e.send(req).code)
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))

	// The default is 1 MiB.
	d := newEnv(t)
	huge := fmt.Sprintf(`{"type": "x", "contact_id": "c", "properties": {"pad": %q}}`, strings.Repeat("x", 1<<20))
	require.Equal(t, 413, d.do("POST", "/v1/events", ingestKey, huge).code)
}

func TestMalformedJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/events", ingestKey, "{\n  \"type\": \"x\",\n  \"contact_id\": }")
	require.Equal(t, 400, r.code)
	msg, details := r.errBody(t)
	require.Contains(t, msg, "malformed JSON at line 3, column")
	require.Contains(t, msg, "byte offset")
	require.Len(t, details, 1)

	r = e.do("POST", "/v1/events", ingestKey, `{"type": "x", "contact_id": "c"`)
	require.Equal(t, 400, r.code)
	msg, _ = r.errBody(t)
	require.Contains(t, msg, "unexpected end of JSON input")

	r = e.do("POST", "/v1/events", ingestKey, `{"type": "x", "contact_id": "c"} {"type": "y"}`)
	require.Equal(t, 400, r.code)
	msg, _ = r.errBody(t)
	require.Contains(t, msg, "unexpected data after the JSON value")
	require.Contains(t, msg, "column 34")

	r = e.do("POST", "/v1/events", ingestKey, "")
	require.Equal(t, 400, r.code)
	msg, _ = r.errBody(t)
	require.Contains(t, msg, "empty")

	r = e.do("POST", "/v1/events", ingestKey, `[{"type": "x", "contact_id": "c"}]`)
	require.Equal(t, 400, r.code)
	msg, _ = r.errBody(t)
	require.Contains(t, msg, `{"batch": [...]}`)
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))
}

func TestUnknownFieldsAndWrongTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	batch := []map[string]any{
		{"type": "a", "contact_id": "c"},
		{"type": "a", "contact_id": "c"},
		{"type": "a", "contact_id": "c"},
		{"typ": "a", "contact_id": "c"},
	}
	r := e.do("POST", "/v1/events", ingestKey, map[string]any{"batch": batch})
	require.Equal(t, 400, r.code)
	msg, details := r.errBody(t)
	require.True(t, strings.HasPrefix(msg, "batch[3].typ: unknown field"), msg)
	require.Equal(t, []string{"batch[3].typ", "batch[3].type"}, detailPaths(details))
	require.Contains(t, details[0]["message"], `did you mean "type"?`)

	r = e.do("POST", "/v1/events", ingestKey, map[string]any{
		"type": 5, "contact_id": true, "properties": "x", "timestamp": 3, "email": "not-an-email", "id": "",
	})
	require.Equal(t, 400, r.code)
	_, details = r.errBody(t)
	got := map[string]string{}
	for _, d := range details {
		got[d["path"]] = d["message"]
	}
	require.Equal(t, "must be a string, not a number", got["type"])
	require.Equal(t, "must be a string, not a boolean", got["contact_id"])
	require.Equal(t, "must be an object, not a string", got["properties"])
	require.Equal(t, "must be a string, not a number", got["timestamp"])
	require.Contains(t, got["email"], "not a valid email address")
	require.Equal(t, "must not be empty", got["id"])

	for body, path := range map[string]string{
		`{"contact_id": "c"}`:               "type",
		`{"type": "x"}`:                     "contact_id",
		`{"type": "--", "contact_id": "c"}`: "type",
		`{"type": "x", "contact_id": "c", "timestamp": "today"}`:                "timestamp",
		`{"type": "x", "contact_id": "c", "timestamp": "2025-03-03T12:00:01Z"}`: "timestamp", // > 24h ahead
		`{"batch": []}`: "batch",
		`{"batch": {}}`: "batch",
		`{"batch": [{"type": "x", "contact_id": "c"}], "extra": 1}`:       "extra",
		`{"type": "x", "contact_id": "` + strings.Repeat("c", 300) + `"}`: "contact_id",
		`{"type": "` + strings.Repeat("x", 101) + `", "contact_id": "c"}`: "type",
	} {
		r := e.do("POST", "/v1/events", ingestKey, body)
		require.Equal(t, 400, r.code, body)
		_, details := r.errBody(t)
		require.Contains(t, detailPaths(details), path, body)
	}
	// Any other name is stored in snake_case, as the Segment routes do.
	r = e.do("POST", "/v1/events", ingestKey, `{"id": "ts-1", "type": "Trial Started", "contact_id": "c"}`)
	require.Equal(t, 202, r.code)
	var typ string
	require.NoError(t, e.store.Pool.QueryRow(context.Background(), `SELECT type FROM events WHERE id = 'ts-1'`).Scan(&typ))
	require.Equal(t, "trial_started", typ)

	// Too many events in one request.
	many := make([]map[string]any, api.MaxBatch+1)
	for i := range many {
		many[i] = map[string]any{"type": "x", "contact_id": "c"}
	}
	r = e.do("POST", "/v1/events", ingestKey, map[string]any{"batch": many})
	require.Equal(t, 400, r.code)
	msg, _ = r.errBody(t)
	require.Contains(t, msg, "at most 1000")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM events`)) // only ts-1
}

func TestEventsBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := map[string]any{"batch": []map[string]any{
		{"id": "b1", "type": "page_visited", "contact_id": "c1", "properties": map[string]any{"url": "/pricing"}},
		{"id": "b2", "type": "email_opened", "contact_id": "c2"},
		{"id": "b3", "type": "email_clicked", "contact_id": "c3", "timestamp": "2025-03-05T00:00:00Z"},
	}}
	r := e.do("POST", "/v1/events", ingestKey, bad)
	require.Equal(t, 400, r.code)
	_, details := r.errBody(t)
	require.Equal(t, []string{"batch[2].timestamp"}, detailPaths(details))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))
	require.Empty(t, e.waker.woken())

	before := e.metric(`leadflow_events_accepted_total{source="events"}`)
	good := bad
	good["batch"].([]map[string]any)[2]["timestamp"] = "2025-02-28T08:00:00+01:00"
	r = e.do("POST", "/v1/events", ingestKey, good)
	require.Equal(t, 202, r.code, string(r.body))
	m := r.json(t)
	require.EqualValues(t, 3, m["accepted"])
	require.EqualValues(t, 0, m["duplicates"])
	require.Equal(t, []any{"b1", "b2", "b3"}, m["ids"])
	require.Equal(t, 3, e.count(`SELECT count(*) FROM events`))
	require.GreaterOrEqual(t, e.metric(`leadflow_events_accepted_total{source="events"}`)-before, 3.0)

	want := []int{store.PartitionOf("c1"), store.PartitionOf("c2"), store.PartitionOf("c3")}
	sort.Ints(want)
	want = compact(want)
	require.Equal(t, want, e.waker.woken())

	ev := e.event("b1")
	require.Equal(t, "page_visited", ev.Type)
	require.Equal(t, "c1", ev.ContactID)
	require.Equal(t, map[string]any{"url": "/pricing"}, ev.Properties)
	require.True(t, ev.OccurredAt.Equal(e.now), "default timestamp is now")
	require.True(t, e.event("b3").OccurredAt.Equal(time.Date(2025, 2, 28, 7, 0, 0, 0, time.UTC)))
}

func compact(s []int) []int {
	var out []int
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func TestEventsIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ev := map[string]any{"id": "same", "type": "email_clicked", "contact_id": "c1"}
	r := e.do("POST", "/v1/events", ingestKey, ev)
	require.Equal(t, 202, r.code)
	require.EqualValues(t, 1, r.json(t)["accepted"])
	calls := e.waker.calledTimes()

	r = e.do("POST", "/v1/events", ingestKey, ev)
	require.Equal(t, 202, r.code)
	m := r.json(t)
	require.EqualValues(t, 0, m["accepted"])
	require.EqualValues(t, 1, m["duplicates"])
	require.Equal(t, []any{"same"}, m["ids"])
	require.Equal(t, 1, e.count(`SELECT count(*) FROM events WHERE id = 'same'`))
	require.Equal(t, calls, e.waker.calledTimes(), "nothing new: no wake-up")

	// The same id twice in one batch counts once.
	r = e.do("POST", "/v1/events", ingestKey, map[string]any{"batch": []any{
		map[string]any{"id": "twice", "type": "x", "contact_id": "c1"},
		map[string]any{"id": "twice", "type": "x", "contact_id": "c1"},
	}})
	require.Equal(t, 202, r.code)
	m = r.json(t)
	require.EqualValues(t, 1, m["accepted"])
	require.EqualValues(t, 1, m["duplicates"])
	require.Equal(t, 2, e.count(`SELECT count(*) FROM events`))
}

func TestEventsEmailAndGeneratedID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/events", ingestKey, map[string]any{"type": "form_submitted", "email": " Ana@Example.COM ",
		"properties": map[string]any{"form": "demo", "seats": 9007199254740991}})
	require.Equal(t, 202, r.code, string(r.body))
	ids := r.json(t)["ids"].([]any)
	require.Len(t, ids, 1)
	id := ids[0].(string)
	require.True(t, strings.HasPrefix(id, "evt_"), id)
	ev := e.event(id)
	require.Equal(t, "ana@example.com", ev.ContactID)
	require.Equal(t, "Ana@Example.COM", *ev.Email)
	require.Equal(t, "demo", ev.Properties["form"])
	var seats string
	require.NoError(t, e.store.Pool.QueryRow(context.Background(), `SELECT properties->>'seats' FROM events WHERE id = $1`, id).Scan(&seats))
	require.Equal(t, "9007199254740991", seats, "numbers are stored exactly (up to 2^53, see edge_test.go)")
}

func TestSegment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	post := func(path, body string) resp {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.SetBasicAuth(ingestKey, "")
		req.Header.Set("Content-Type", "application/json")
		return e.send(req)
	}
	r := post("/v1/track", `{"userId": "u1", "event": "Trial Started!  (Pro)", "messageId": "m-track",
		"properties": {"plan": "pro"}, "timestamp": "2025-03-01T10:00:00.000Z", "integrations": {"All": true},
		"context": {"library": {"name": "analytics.js"}}, "version": 2, "type": "track"}`)
	require.Equal(t, 200, r.code, string(r.body))
	m := r.json(t)
	require.Equal(t, true, m["success"])
	require.EqualValues(t, 1, m["accepted"])
	require.Equal(t, []any{"m-track"}, m["ids"])
	ev := e.event("m-track")
	require.Equal(t, "trial_started_pro", ev.Type)
	require.Equal(t, "u1", ev.ContactID)
	require.Equal(t, map[string]any{"plan": "pro"}, ev.Properties)
	require.True(t, ev.OccurredAt.Equal(time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)))

	r = post("/v1/page", `{"anonymousId": "anon-7", "name": "Pricing", "messageId": "m-page",
		"properties": {"path": "/pricing", "title": "Pricing"}, "context": {"page": {"url": "https://x.io/pricing"}}}`)
	require.Equal(t, 200, r.code, string(r.body))
	ev = e.event("m-page")
	require.Equal(t, "page_visited", ev.Type)
	require.Equal(t, "anon-7", ev.ContactID)
	require.Equal(t, map[string]any{"path": "/pricing", "title": "Pricing", "url": "https://x.io/pricing", "name": "Pricing"}, ev.Properties)

	r = post("/v1/identify", `{"userId": "u1", "anonymousId": "anon-7", "messageId": "m-id",
		"traits": {"email": "ana@example.com", "role": "cto"}, "context": {"traits": {"company": "Acme", "role": "dev"}}}`)
	require.Equal(t, 200, r.code, string(r.body))
	ev = e.event("m-id")
	require.Equal(t, "identify", ev.Type)
	require.Equal(t, "u1", ev.ContactID, "userId wins over anonymousId")
	require.Equal(t, "ana@example.com", *ev.Email)
	require.Equal(t, map[string]any{"role": "cto", "company": "Acme"}, ev.Traits)

	// Account traits need the admin key (edge_test.go: the ingest key's are ignored).
	req := httptest.NewRequest("POST", "/v1/group", strings.NewReader(`{"userId": 42, "groupId": "acme", "messageId": "m-group", "traits": {"name": "Acme", "employees": 250}}`))
	req.SetBasicAuth(adminKey, "")
	r = e.send(req)
	require.Equal(t, 200, r.code, string(r.body))
	ev = e.event("m-group")
	require.Equal(t, "group", ev.Type)
	require.Equal(t, "42", ev.ContactID, "numeric userId")
	require.Equal(t, "acme", *ev.AccountID)
	require.Equal(t, map[string]any{"account_traits": map[string]any{"name": "Acme", "employees": float64(250)}}, ev.Properties)

	// A batch of every type; the batch's sentAt corrects the client's clock.
	r = post("/v1/batch", `{"sentAt": "2030-01-01T00:00:10Z", "context": {"page": {"url": "https://x.io/batch"}}, "batch": [
		{"type": "track", "userId": "u2", "event": "Signed Up", "messageId": "bm1", "originalTimestamp": "2030-01-01T00:00:00Z"},
		{"type": "page", "userId": "u2", "messageId": "bm2"},
		{"type": "screen", "userId": "u2", "name": "Home", "messageId": "bm3"},
		{"type": "identify", "userId": "u2", "traits": {"plan": "free"}, "messageId": "bm4"},
		{"type": "group", "userId": "u2", "groupId": "g2", "messageId": "bm5"},
		{"type": "alias", "userId": "u2", "previousId": "anon-2", "messageId": "bm6"}
	]}`)
	require.Equal(t, 200, r.code, string(r.body))
	require.EqualValues(t, 6, r.json(t)["accepted"])
	ev = e.event("bm1")
	require.Equal(t, "signed_up", ev.Type)
	require.True(t, ev.OccurredAt.Equal(e.now.Add(-10*time.Second)), "skew-corrected: %s", ev.OccurredAt)
	require.Equal(t, "https://x.io/batch", e.event("bm2").Properties["url"])
	require.Equal(t, "page_visited", e.event("bm3").Type)
	require.Equal(t, true, e.event("bm3").Properties["screen"])
	require.Equal(t, map[string]any{"plan": "free"}, e.event("bm4").Traits)
	require.Equal(t, "g2", *e.event("bm5").AccountID)
	require.Equal(t, "alias", e.event("bm6").Type)
	require.Equal(t, "anon-2", e.event("bm6").Properties["previous_id"])

	// Bad input: no user, malformed JSON, unknown message type, wrong types.
	for body, path := range map[string]string{
		`{"event": "x"}`: "userId",
		`{"userId": "", "anonymousId": null, "event": "x"}`:       "userId",
		`{"userId": "u", "properties": [1]}`:                      "properties",
		`{"userId": "u"}`:                                         "event",
		`{"userId": "u", "event": "!!!"}`:                         "event",
		`{"userId": {"id": 1}, "event": "x"}`:                     "userId",
		`{"userId": "u", "event": "x", "timestamp": "yesterday"}`: "timestamp",
	} {
		r := post("/v1/track", body)
		require.Equal(t, 400, r.code, body)
		_, details := r.errBody(t)
		require.Contains(t, detailPaths(details), path, body)
	}
	r = post("/v1/track", `{"userId": "u", "event": `)
	require.Equal(t, 400, r.code)
	msg, _ := r.errBody(t)
	require.Contains(t, msg, "malformed JSON")
	r = post("/v1/group", `{"userId": "u"}`)
	require.Equal(t, 400, r.code)
	r = post("/v1/batch", `{"batch": [{"type": "track", "userId": "u", "event": "ok", "messageId": "never"}, {"type": "purchase", "userId": "u"}]}`)
	require.Equal(t, 400, r.code)
	_, details := r.errBody(t)
	require.Equal(t, []string{"batch[1].type"}, detailPaths(details))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events WHERE id = 'never'`))

	// Bearer works on the Segment routes too.
	r = e.do("POST", "/v1/track", ingestKey, `{"anonymousId": "a", "event": "Clicked"}`)
	require.Equal(t, 200, r.code)
}

const segmentDoc = `{"kind": "segment", "id": "mql", "name": "MQL",
	"rule": {"score": {"model": "main", "op": "gte", "value": 20}}}`

const modelDoc = `{"kind": "score_model", "id": "main", "name": "Main score",
	"bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "hot", "min": 30, "color": "#ef4444"}],
	"engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}]}`

const flowDoc = `{"kind": "flow", "id": "tag-mql", "name": "Tag MQLs",
	"trigger": {"type": "segment_entered", "segment": "mql"}, "entry": "once",
	"steps": [{"id": "tag", "type": "add_tag", "tag": "mql"}]}`

func TestDefinitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	versions := func() int { return e.count(`SELECT count(*) FROM definition_versions`) }

	r := e.do("POST", "/v1/definitions", adminKey, "["+modelDoc+","+segmentDoc+"]")
	require.Equal(t, 201, r.code, string(r.body))
	var pub struct {
		Published []store.PublishResult `json:"published"`
	}
	require.NoError(t, json.Unmarshal(r.body, &pub))
	require.Equal(t, []store.PublishResult{
		{ID: "main", Kind: "score_model", Version: 1, Changed: true, Status: "published"},
		{ID: "mql", Kind: "segment", Version: 1, Changed: true, Status: "published"},
	}, pub.Published)

	// A flow referring to the published segment validates against it.
	r = e.do("POST", "/v1/definitions", adminKey, flowDoc)
	require.Equal(t, 201, r.code, string(r.body))

	// The same body again changes nothing.
	r = e.do("POST", "/v1/definitions", adminKey, segmentDoc)
	require.Equal(t, 200, r.code, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &pub))
	require.Equal(t, []store.PublishResult{{ID: "mql", Kind: "segment", Version: 1, Changed: false, Status: "published"}}, pub.Published)
	require.Equal(t, 3, versions())

	// A change is a new version.
	r = e.do("POST", "/v1/definitions", adminKey, strings.Replace(segmentDoc, `"value": 20`, `"value": 25`, 1))
	require.Equal(t, 201, r.code, string(r.body))
	require.NoError(t, json.Unmarshal(r.body, &pub))
	require.Equal(t, 2, pub.Published[0].Version)

	// Invalid documents: 422 with every path, nothing published.
	invalid := `[` + strings.Replace(flowDoc, `"segment": "mql"`, `"segment": "nope"`, 1) + `,
		{"kind": "segment", "id": "other", "name": "Other", "rule": {"tag": "x"}, "colour": "red"}]`
	r = e.do("POST", "/v1/definitions", adminKey, invalid)
	require.Equal(t, 422, r.code, string(r.body))
	msg, details := r.errBody(t)
	require.Equal(t, "invalid definitions", msg)
	paths := detailPaths(details)
	require.Contains(t, paths, "[0].trigger.segment")
	require.Contains(t, paths, "[1].colour")
	require.Equal(t, 4, versions())
	require.Equal(t, 0, e.count(`SELECT count(*) FROM definitions WHERE id = 'other'`))

	// Malformed JSON is a 400 like everywhere; a kind change is refused.
	require.Equal(t, 400, e.do("POST", "/v1/definitions", adminKey, `[{"kind": "flow",]`).code)
	r = e.do("POST", "/v1/definitions", adminKey, `{"kind": "segment", "id": "main", "name": "x", "rule": {"tag": "x"}}`)
	require.Equal(t, 422, r.code, string(r.body))
	require.Equal(t, 4, versions())
	r = e.do("POST", "/v1/definitions", adminKey, `[]`)
	require.Equal(t, 422, r.code, string(r.body))

	// Listing and reading.
	r = e.do("GET", "/v1/definitions", adminKey, nil)
	require.Equal(t, 200, r.code)
	var list struct {
		Definitions []store.Definition `json:"definitions"`
	}
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list.Definitions, 3)
	r = e.do("GET", "/v1/definitions?kind=flow", adminKey, nil)
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list.Definitions, 1)
	require.Equal(t, 400, e.do("GET", "/v1/definitions?kind=rule", adminKey, nil).code)

	r = e.do("GET", "/v1/definitions/mql", adminKey, nil)
	require.Equal(t, 200, r.code)
	m := r.json(t)
	require.Equal(t, "mql", m["id"])
	require.EqualValues(t, 2, m["current_version"])
	vs := m["versions"].([]any)
	require.Len(t, vs, 2)
	require.EqualValues(t, 2, vs[0].(map[string]any)["version"])
	require.NotEmpty(t, vs[0].(map[string]any)["hash"])
	require.EqualValues(t, 25, m["body"].(map[string]any)["rule"].(map[string]any)["score"].(map[string]any)["value"])
	// A segment's version re-evaluates existing contacts (none here: done at once).
	re := m["reevaluation"].(map[string]any)
	require.EqualValues(t, 2, re["version"])
	require.EqualValues(t, 0, re["contacts"])
	require.NotEmpty(t, re["finished_at"])

	// Pause and resume.
	r = e.do("POST", "/v1/definitions/tag-mql/pause", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	require.Equal(t, "paused", r.json(t)["status"])
	r = e.do("GET", "/v1/definitions?status=paused", adminKey, nil)
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list.Definitions, 1)
	r = e.do("POST", "/v1/definitions/tag-mql/resume", adminKey, nil)
	require.Equal(t, 200, r.code)
	require.Equal(t, "published", r.json(t)["status"])

	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/definitions/nope"}, {"POST", "/v1/definitions/nope/pause"}, {"POST", "/v1/definitions/nope/resume"},
	} {
		r := e.do(rt.method, rt.path, adminKey, nil)
		require.Equal(t, 404, r.code, rt.path)
		msg, _ := r.errBody(t)
		require.Equal(t, `definition "nope" not found`, msg)
	}
}

func TestGetContact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/v1/contacts/ghost", adminKey, nil)
	require.Equal(t, 404, r.code)
	msg, _ := r.errBody(t)
	require.Equal(t, `contact "ghost" not found`, msg)

	e.addContact("ana@example.com", "ana@example.com", "acme")
	e.exec(`UPDATE contacts SET fields = '{"role": "cto"}', tags = '{mql,newsletter}', stage = 'sql' WHERE id = 'ana@example.com'`)
	e.exec(`INSERT INTO scores (contact_id, model, score, profile, engagement, band) VALUES ('ana@example.com', 'main', 12.5, 5, 7.5, 'warm')`)
	e.exec(`INSERT INTO segment_memberships (contact_id, segment_id, entered_at) VALUES ('ana@example.com', 'mql', now())`)
	e.exec(`INSERT INTO flow_runs (id, flow_id, flow_version, contact_id, status, step_id, wait_until, started_at, updated_at)
		VALUES ('f:ana:1', 'f', 3, 'ana@example.com', 'waiting', 'quiet', '2025-05-01T00:00:00Z', now(), now()),
		       ('f:ana:0', 'f', 2, 'ana@example.com', 'completed', '', NULL, now(), now())`)

	r = e.do("GET", "/v1/contacts/ana@example.com", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	m := r.json(t)
	require.Equal(t, "ana@example.com", m["contact_id"])
	require.Equal(t, map[string]any{"role": "cto"}, m["fields"])
	require.Equal(t, []any{"mql", "newsletter"}, m["tags"])
	require.Equal(t, "acme", m["account_id"])
	require.Equal(t, "sql", m["stage"])
	require.Equal(t, false, m["disqualified"])
	require.Equal(t, map[string]any{"main": map[string]any{"score": 12.5, "band": "warm", "color": "", "profile": 5.0, "engagement": 7.5}}, m["scores"],
		"a model not published: the band stored, no colour")
	require.Equal(t, []any{"mql"}, m["segments"])
	runs := m["flow_runs"].([]any)
	require.Len(t, runs, 1, "only active runs")
	run := runs[0].(map[string]any)
	require.Equal(t, "f:ana:1", run["id"])
	require.EqualValues(t, 3, run["flow_version"])
	require.Equal(t, "waiting", run["status"])
	require.Equal(t, "quiet", run["step_id"])
	waitUntil, err := time.Parse(time.RFC3339, run["wait_until"].(string))
	require.NoError(t, err)
	require.True(t, waitUntil.Equal(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)))

	// An id with a slash, escaped in the URL.
	e.addContact("crm/123", "")
	r = e.do("GET", "/v1/contacts/crm%2F123", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	m = r.json(t)
	require.Nil(t, m["account_id"])
	require.Equal(t, map[string]any{}, m["scores"])
	require.Equal(t, []any{}, m["segments"])
	require.Equal(t, []any{}, m["flow_runs"])
}

func TestLeads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/definitions", adminKey, `{"kind": "score_model", "id": "main", "name": "Main",
		"bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "warm", "min": 15, "color": "#f59e0b"},
			{"name": "hot", "min": 30, "color": "#ef4444"}],
		"engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}]}`)
	require.Equal(t, 201, r.code, string(r.body))
	for _, c := range []struct {
		id    string
		score float64
		band  string
	}{{"a", 10, "cold"}, {"b", 75.5, "hot"}, {"c", 40, "hot"}, {"d", 40, "hot"}, {"e", 20, "warm"}} {
		e.addContact(c.id, c.id+"@x.io")
		e.addScore(c.id, "main", c.score, c.band)
	}
	e.addScore("a", "other", 99, "hot")
	e.exec(`UPDATE contacts SET disqualified = true WHERE id = 'c'`)
	e.exec(`INSERT INTO segment_memberships (contact_id, segment_id, entered_at) VALUES ('d', 'mql', now()), ('e', 'mql', now())`)

	ids := func(r resp) []string {
		var body struct {
			Model string `json:"model"`
			Leads []struct {
				ContactID    string  `json:"contact_id"`
				Email        string  `json:"email"`
				Score        float64 `json:"score"`
				Band         string  `json:"band"`
				Disqualified bool    `json:"disqualified"`
			} `json:"leads"`
		}
		require.Equal(t, 200, r.code, string(r.body))
		require.NoError(t, json.Unmarshal(r.body, &body))
		var out []string
		for _, l := range body.Leads {
			out = append(out, l.ContactID)
		}
		return out
	}
	r = e.do("GET", "/v1/leads", adminKey, nil)
	require.Equal(t, []string{"b", "c", "d", "e", "a"}, ids(r))
	m := r.json(t)
	require.Equal(t, "main", m["model"])
	first := m["leads"].([]any)[0].(map[string]any)
	require.NotEmpty(t, first["score_updated_at"])
	require.NotEmpty(t, first["last_activity"])
	delete(first, "score_updated_at")
	delete(first, "last_activity")
	require.Equal(t, map[string]any{"contact_id": "b", "email": "b@x.io", "score": 75.5, "band": "hot", "stage": "", "disqualified": false,
		"band_color": "#ef4444", "owner": ""}, first)

	require.Equal(t, []string{"b", "c", "d"}, ids(e.do("GET", "/v1/leads?band=hot", adminKey, nil)))
	require.Equal(t, []string{"b", "c"}, ids(e.do("GET", "/v1/leads?band=hot&limit=2", adminKey, nil)))
	require.Equal(t, []string{"d", "e"}, ids(e.do("GET", "/v1/leads?segment=mql", adminKey, nil)))
	require.Equal(t, []string{"b", "d", "e", "a"}, ids(e.do("GET", "/v1/leads?disqualified=false", adminKey, nil)))
	require.Equal(t, []string{"a"}, ids(e.do("GET", "/v1/leads?model=other", adminKey, nil)))
	require.Empty(t, ids(e.do("GET", "/v1/leads?model=unknown", adminKey, nil)))
	require.Equal(t, []string{"b", "c", "d", "e"}, ids(e.do("GET", "/v1/leads?min_score=20", adminKey, nil)))
	require.Equal(t, []string{"e"}, ids(e.do("GET", "/v1/leads?band=warm", adminKey, nil)))
	require.Empty(t, ids(e.do("GET", "/v1/leads?band=warm&min_score=20.01", adminKey, nil)))

	for q, path := range map[string]string{
		"limit=0": "limit", "limit=1001": "limit", "limit=ten": "limit", "model=": "model",
		"bnd=hot": "bnd", "disqualified=maybe": "disqualified", "limit=1&limit=2": "limit",
		"band=tepid": "band", "model=other&band=hot": "band", "min_score=lots": "min_score", "min_score=1e10": "min_score",
	} {
		r := e.do("GET", "/v1/leads?"+q, adminKey, nil)
		require.Equal(t, 400, r.code, q)
		_, details := r.errBody(t)
		require.Equal(t, []string{path}, detailPaths(details), q)
	}
	_, details := e.do("GET", "/v1/leads?bnd=hot", adminKey, nil).errBody(t)
	require.Contains(t, details[0]["message"], `did you mean "band"?`)
	_, details = e.do("GET", "/v1/leads?band=tepid", adminKey, nil).errBody(t)
	require.Equal(t, `"tepid" is not a band of score model "main"; its bands are cold, warm, hot`, details[0]["message"])
}

func TestScoreHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, 404, e.do("GET", "/v1/contacts/ghost/score-history", adminKey, nil).code)

	e.addContact("c1", "")
	e.addScore("c1", "main", 17.3, "warm")
	e.addScore("c1", "web", 1, "")
	at := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	for i, l := range []struct {
		model  string
		points float64
		kind   string
	}{{"main", 5, "engagement"}, {"web", 1, "engagement"}, {"main", 10.1, "profile"}, {"main", -0.1, "decay"}, {"main", 2.3, "flow"}} {
		e.exec(`INSERT INTO score_ledger (contact_id, model, points, kind, reason, rule_id, model_version, flow_id, flow_version,
			step_id, run_id, event_id, at) VALUES ('c1', $1, $2, $3, 'because', 'r1', 2, 'f1', 3, 's1', 'run1', $4, $5)`,
			l.model, l.points, l.kind, fmt.Sprintf("ev%d", i), at.Add(time.Duration(i)*time.Hour))
	}
	r := e.do("GET", "/v1/contacts/c1/score-history", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var body struct {
		ContactID string             `json:"contact_id"`
		Entries   []map[string]any   `json:"entries"`
		Totals    map[string]float64 `json:"totals"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Equal(t, "c1", body.ContactID)
	require.Len(t, body.Entries, 5)
	require.Equal(t, "ev0", body.Entries[0]["event_id"], "oldest first")
	first := body.Entries[0]
	for _, k := range []string{"id", "model", "points", "kind", "reason", "rule_id", "model_version", "flow_id",
		"flow_version", "step_id", "run_id", "event_id", "at"} {
		require.Contains(t, first, k)
	}
	require.EqualValues(t, 2, first["model_version"])
	firstAt, err := time.Parse(time.RFC3339, first["at"].(string))
	require.NoError(t, err)
	require.True(t, firstAt.Equal(at))
	// The totals equal the current scores, exactly.
	require.Equal(t, map[string]float64{"main": 17.3, "web": 1}, body.Totals)
	r = e.do("GET", "/v1/contacts/c1", adminKey, nil)
	scores := r.json(t)["scores"].(map[string]any)
	for model, total := range body.Totals {
		require.Equal(t, total, scores[model].(map[string]any)["score"])
	}

	r = e.do("GET", "/v1/contacts/c1/score-history?model=web", adminKey, nil)
	body.Totals = nil
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Len(t, body.Entries, 1)
	require.Equal(t, map[string]float64{"web": 1}, body.Totals)
	require.Equal(t, 400, e.do("GET", "/v1/contacts/c1/score-history?modle=web", adminKey, nil).code)
}

func TestTasks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	base := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	for i, c := range []string{"c1", "c2", "c1"} {
		e.exec(`INSERT INTO crm_tasks (contact_id, title, reason, idem_key, created_at, model, threshold_id, crossing, delivery_status, due_at)
			VALUES ($1, $2, 'threshold', $3, $4, 'main', 'mql', 1, 'pending', $5)`,
			c, fmt.Sprintf("task %d", i), fmt.Sprintf("k%d", i), base.Add(time.Duration(i)*time.Hour), base.Add(48*time.Hour))
	}
	r := e.do("GET", "/v1/tasks", adminKey, nil)
	require.Equal(t, 200, r.code)
	var body struct {
		Tasks []map[string]any `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Len(t, body.Tasks, 3)
	require.Equal(t, "task 2", body.Tasks[0]["title"], "newest first")
	for _, k := range []string{"id", "contact_id", "title", "description", "assignee", "due_at", "reason", "model", "threshold_id",
		"crossing", "flow_id", "flow_version", "step_id", "run_id", "event_id", "idem_key", "delivery_status", "created_at"} {
		require.Contains(t, body.Tasks[0], k)
	}
	require.Equal(t, "pending", body.Tasks[0]["delivery_status"])

	r = e.do("GET", "/v1/tasks?contact_id=c1&limit=1", adminKey, nil)
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Len(t, body.Tasks, 1)
	require.Equal(t, "task 2", body.Tasks[0]["title"])
	require.Equal(t, 400, e.do("GET", "/v1/tasks?limit=-1", adminKey, nil).code)
}

// An account's score in a model that rolls up to accounts is the sum of
// its contacts' scores, disqualified contacts left out, in the model's
// bands; a model without "account_rollup" has no account score.
func TestAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/definitions", adminKey, `[{"kind": "score_model", "id": "main", "name": "Main", "account_rollup": "sum",
		"bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "hot", "min": 30, "color": "#ef4444"}],
		"engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}]},
		{"kind": "score_model", "id": "nps", "name": "NPS", "bands": [{"name": "promoter", "min": 9, "color": "#22c55e"}],
		"engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}]}]`)
	require.Equal(t, 201, r.code, string(r.body))
	require.Equal(t, 404, e.do("GET", "/v1/accounts/acme", adminKey, nil).code)
	e.addContact("a", "a@acme.io", "acme")
	e.addContact("b", "b@acme.io", "acme")
	e.addContact("x", "x@acme.io", "acme")
	e.addContact("z", "z@other.io", "other")
	e.addScore("a", "main", 10.25, "cold")
	e.addScore("b", "main", 30, "hot")
	e.addScore("b", "nps", 9, "")
	e.addScore("x", "main", 500, "hot")
	e.exec(`UPDATE contacts SET disqualified = true WHERE id = 'x'`)
	e.addScore("z", "main", 100, "hot")

	r = e.do("GET", "/v1/accounts/acme", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	m := r.json(t)
	require.Equal(t, "acme", m["account_id"])
	require.Equal(t, "Account acme", m["name"])
	require.Equal(t, map[string]any{"main": map[string]any{"score": 40.25, "band": "hot", "color": "#ef4444"}}, m["scores"],
		"main sums a and b, not the disqualified x; nps does not roll up")
	require.EqualValues(t, 3, m["contacts_total"])
	contacts := m["contacts"].([]any)
	require.Len(t, contacts, 3)
	require.Equal(t, map[string]any{"contact_id": "b", "email": "b@acme.io", "stage": "", "disqualified": false,
		"scores": map[string]any{"main": map[string]any{"score": 30.0, "band": "hot", "color": "#ef4444"},
			"nps": map[string]any{"score": 9.0, "band": "promoter", "color": "#22c55e"}}}, contacts[1])

	// A contact disqualified later leaves the sum; an account without a
	// contact that counts scores 0.
	e.exec(`UPDATE contacts SET disqualified = true WHERE id IN ('a', 'b')`)
	m = e.do("GET", "/v1/accounts/acme", adminKey, nil).json(t)
	require.Equal(t, map[string]any{"main": map[string]any{"score": 0.0, "band": "cold", "color": "#3b82f6"}}, m["scores"])
}

func TestPostContact(t *testing.T) {
	t.Parallel()
	// Without an engine the event is not applied in time: 202 pending.
	e := newEnv(t)
	r := e.do("POST", "/v1/contacts", adminKey, map[string]any{"email": "Bo@Example.com", "event_id": "up-1"})
	require.Equal(t, 202, r.code, string(r.body))
	require.Equal(t, map[string]any{"status": "pending", "event_id": "up-1"}, r.json(t))
	ev := e.event("up-1")
	require.Equal(t, "identify", ev.Type)
	require.Equal(t, "bo@example.com", ev.ContactID)

	// A stand-in engine that applies identify events when woken.
	e2 := newEnv(t, func(c *api.Config) { c.ContactWait = 10 * time.Second })
	e2.waker.onWake = func(ctx context.Context, partitions []int) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			_, err := e2.store.Pool.Exec(context.Background(), `
				WITH ev AS (UPDATE events SET applied_at = now() WHERE applied_at IS NULL RETURNING *),
				acc AS (INSERT INTO accounts (id) SELECT account_id FROM ev WHERE account_id IS NOT NULL ON CONFLICT DO NOTHING)
				INSERT INTO contacts (id, email, fields, tags, account_id, partition)
				SELECT contact_id, coalesce(email, ''), coalesce(traits, '{}'), coalesce(tags, '{}'), account_id, partition FROM ev`)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("applying: %v", err)
			}
		}()
	}
	e2.exec(`INSERT INTO accounts (id) VALUES ('acme')`)
	r = e2.do("POST", "/v1/contacts", adminKey, map[string]any{
		"contact_id": "u-9", "email": "cy@acme.io", "fields": map[string]any{"role": "cto"},
		"tags": []string{"vip"}, "remove_tags": []string{"cold"}, "account_id": "acme",
	})
	require.Equal(t, 200, r.code, string(r.body))
	m := r.json(t)
	require.Equal(t, "u-9", m["contact_id"])
	require.Equal(t, "cy@acme.io", m["email"])
	require.Equal(t, map[string]any{"role": "cto"}, m["fields"])
	require.Equal(t, []any{"vip"}, m["tags"])
	require.Equal(t, "acme", m["account_id"])
	var id string
	require.NoError(t, e2.store.Pool.QueryRow(context.Background(), `SELECT id FROM events WHERE contact_id = 'u-9'`).Scan(&id))
	ev = e2.event(id)
	require.Equal(t, "identify", ev.Type)
	require.Equal(t, map[string]any{"remove_tags": []any{"cold"}}, ev.Properties)
	require.Equal(t, []string{"vip"}, ev.Tags)
	require.Equal(t, "acme", *ev.AccountID)
	require.Equal(t, map[string]any{"role": "cto"}, ev.Traits)

	// Reusing an event id of another contact is a conflict; bad input a 400.
	r = e2.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "other", "event_id": id})
	require.Equal(t, 409, r.code, string(r.body))
	for body, path := range map[string]string{
		`{"fields": {}}`:                           "contact_id",
		`{"contact_id": "x", "tags": "vip"}`:       "tags",
		`{"contact_id": "x", "tags": ["ok", 3]}`:   "tags[1]",
		`{"contact_id": "x", "remove_tags": [""]}`: "remove_tags[0]",
		`{"contact_id": "x", "fields": []}`:        "fields",
		`{"contact_id": "x", "field": {}}`:         "field",
		`{"contact_id": "x", "account_id": 7}`:     "account_id",
	} {
		r := e2.do("POST", "/v1/contacts", adminKey, body)
		require.Equal(t, 400, r.code, body)
		_, details := r.errBody(t)
		require.Contains(t, detailPaths(details), path, body)
	}
}

func TestMethodsAndRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/v1/events", ingestKey, nil)
	require.Equal(t, 405, r.code)
	require.Equal(t, "POST", r.header.Get("Allow"))
	msg, _ := r.errBody(t)
	require.Contains(t, msg, "not allowed")
	r = e.do("DELETE", "/v1/definitions", adminKey, nil)
	require.Equal(t, 405, r.code)
	require.Equal(t, "POST, GET, HEAD", r.header.Get("Allow"))
	r = e.do("PUT", "/v1/contacts/x", adminKey, nil)
	require.Equal(t, 405, r.code)
	r = e.do("GET", "/v2/nothing", adminKey, nil)
	require.Equal(t, 404, r.code)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
}

func TestReadyzAndPanics(t *testing.T) {
	t.Parallel()
	var fail error = errors.New("temporal unreachable")
	e := newEnv(t, func(c *api.Config) { c.Ready = func(context.Context) error { return fail } })
	r := e.do("GET", "/readyz", "", nil)
	require.Equal(t, 503, r.code)
	require.Equal(t, map[string]any{"status": "unavailable"}, r.json(t), "the cause is logged, not shown")

	p := newEnv(t, func(c *api.Config) { c.Ready = func(context.Context) error { panic("boom") } })
	r = p.do("GET", "/readyz", "", nil)
	require.Equal(t, 500, r.code)
	msg, _ := r.errBody(t)
	require.Equal(t, "internal error", msg)
	require.Equal(t, 200, p.do("GET", "/healthz", "", nil).code, "still serving after a panic")
}
