package api

// Fuzz targets for the ingestion request decoders, native and Segment. They
// drive the real HTTP handler with a real PostgreSQL store (one database per
// fuzzing process) and check what the edge promises:
//
//   - no panic and never a 5xx, whatever the body;
//   - a refused request (4xx) stores nothing;
//   - an accepted request (2xx) stores only events whose every value passes
//     the limits (read back from the log and checked again).
//
// Run briefly in CI:
//
//	go test ./api -run '^$' -fuzz '^FuzzEvents$' -fuzztime 15s
//	go test ./api -run '^$' -fuzz '^FuzzSegment$' -fuzztime 15s

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

const (
	fuzzAdminKey  = "fuzz-admin"
	fuzzIngestKey = "fuzz-ingest"
)

var fuzzNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fuzzEdge is the handler and store one fuzzing process works against.
type fuzzEdge struct {
	h       http.Handler
	st      *store.Store
	lastSeq int64
}

func newFuzzEdge(f *testing.F) *fuzzEdge {
	st := storetest.NewStore(f)
	h := New(Config{Store: st, AdminKey: fuzzAdminKey, IngestKey: fuzzIngestKey, Log: zerolog.Nop(),
		Now: func() time.Time { return fuzzNow }, ContactWait: time.Millisecond})
	return &fuzzEdge{h: h, st: st}
}

// post sends body to path with the admin or the ingest key and checks the
// answer and what it stored.
func (fe *fuzzEdge) post(t *testing.T, path string, body []byte, admin bool) {
	key := fuzzIngestKey
	if admin {
		key = fuzzAdminKey
	}
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	fe.h.ServeHTTP(rec, req)
	code := rec.Code
	if code >= 500 {
		t.Fatalf("POST %s answered %d: %s\nbody: %q", path, code, rec.Body.Bytes(), body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("POST %s answered %d with a body that is not JSON: %q", path, code, rec.Body.Bytes())
	}
	stored := fe.newEvents(t)
	if code >= 300 {
		if len(stored) > 0 {
			t.Fatalf("POST %s answered %d but stored %d events (%s)\nbody: %q", path, code, len(stored), stored[0].ID, body)
		}
		return
	}
	for _, e := range stored {
		var p problems
		checkEvent(e.EventRow, "", admin, &p)
		checkTime(e.OccurredAt, fuzzNow, "timestamp", &p)
		if !p.empty() {
			t.Fatalf("POST %s answered %d and stored event %q that breaks the limits: %v\nbody: %q", path, code, e.ID, p.list, body)
		}
	}
}

// storedEvent is an event read back from the log with its numbers exact.
type storedEvent struct {
	store.EventRow
}

// newEvents returns the events stored since the last call.
func (fe *fuzzEdge) newEvents(t *testing.T) []storedEvent {
	rows, err := fe.st.Pool.Query(context.Background(), `SELECT seq, id, contact_id, type, properties::text, email, traits::text, tags, account_id, occurred_at
		FROM events WHERE seq > $1 ORDER BY seq`, fe.lastSeq)
	if err != nil {
		t.Fatalf("reading stored events: %v", err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		var props string
		var traits *string
		if err := rows.Scan(&e.Seq, &e.ID, &e.ContactID, &e.Type, &props, &e.Email, &traits, &e.Tags, &e.AccountID, &e.OccurredAt); err != nil {
			t.Fatalf("reading a stored event: %v", err)
		}
		e.Properties = exactObject(t, props)
		if traits != nil {
			e.Traits = exactObject(t, *traits)
		}
		fe.lastSeq = e.Seq
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading stored events: %v", err)
	}
	return out
}

// exactObject decodes stored JSON keeping numbers as they are written.
func exactObject(t *testing.T, s string) map[string]any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding stored JSON %q: %v", s, err)
	}
	return m
}

// hostile are bodies seeding both targets: each breaks one limit, or
// nearly does.
var hostile = []string{
	`{"n": 1e400}`, `{"n": -1e400}`, `{"n": 1e-400}`, `{"n": 9007199254740993}`, `{"n": 9007199254740991}`,
	`{"n": 1e999999999}`, `{"n": -0}`, `{"n": 0.30000000000000004}`, `{"n": 123456789012345678901234567890}`,
	`{"s": "a\u0000b"}`, `{"s": "\u0007"}`, `{"s": "\ud800"}`, `{"s": "\udc00\ud800"}`, `{"s": "tab\tnl\n"}`,
	`{"a\u0000": 1}`, `{"": 1}`, `{"a": {"b": {"c": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}}`,
	`{"u": "ana\u200bsmith", "v": "\u202e", "w": "\ufeff"}`,
}

// FuzzEvents fuzzes POST /v1/events (ingest key) and POST /v1/contacts
// (admin key).
func FuzzEvents(f *testing.F) {
	fe := newFuzzEdge(f)
	seeds := []string{
		`{"id": "e1", "type": "page_visited", "contact_id": "c1", "properties": {"url": "/pricing", "n": 1.5}}`,
		`{"type": "Trial Started", "email": "Ana@Example.com", "timestamp": "2025-03-01T10:00:00Z"}`,
		`{"batch": [{"id": "b1", "type": "x", "contact_id": "c1"}, {"id": "b1", "type": "y", "contact_id": "c1"}]}`,
		`{"batch": [{"type": "field_changed", "contact_id": "c1"}, {"type": "Segment Entered", "contact_id": "c1"}]}`,
		`{"type": "identify", "contact_id": "c1", "properties": {"remove_tags": ["vip"]}}`,
		`{"type": "group", "contact_id": "c1", "properties": {"account_traits": {"name": "x"}}}`,
		`{"type": "x", "contact_id": "c\u0000"}`, `{"type": "x\u200b", "contact_id": "c"}`,
		`{"type": "x", "contact_id": "c", "timestamp": "1999-12-31T23:59:59Z"}`,
		`{"type": "x", "contact_id": "c", "timestamp": "2025-03-02T13:00:00Z"}`,
		`{"contact_id": "c1", "fields": {"plan": "pro"}, "tags": ["vip"], "remove_tags": ["cold"], "account_id": "acme"}`,
		`{"email": "` + strings.Repeat("a", 988) + `@example.com", "fields": {}}`,
		"{\"type\": \"x\", \"contact_id\": \"c\xff\"}",
		`[1, 2]`, `null`, `{"batch": []}`, `{"batch": {}}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	for i, h := range hostile {
		f.Add(uint8(0), []byte(`{"type": "x", "contact_id": "c", "properties": `+h+`}`))
		f.Add(uint8(1), []byte(`{"contact_id": "c", "event_id": "h`+string(rune('a'+i))+`", "fields": `+h+`}`))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		if route%2 == 0 {
			fe.post(t, "/v1/events", body, false)
		} else {
			fe.post(t, "/v1/contacts", body, true)
		}
	})
}

// FuzzSegment fuzzes the Segment-compatible routes, with the ingest key or
// the admin key.
func FuzzSegment(f *testing.F) {
	fe := newFuzzEdge(f)
	routes := []string{"/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias", "/v1/batch"}
	seeds := []string{
		`{"userId": "u1", "event": "Trial Started", "messageId": "m1", "properties": {"plan": "pro"}, "timestamp": "2025-03-01T10:00:00.000Z"}`,
		`{"userId": "u1", "anonymousId": "a1", "traits": {"email": "ana@example.com"}, "context": {"traits": {"role": "cto"}}}`,
		`{"anonymousId": "a1", "name": "Pricing", "properties": {"path": "/pricing"}, "context": {"page": {"url": "https://x.io/p"}}}`,
		`{"userId": 42, "name": "Home", "originalTimestamp": "2025-03-01T10:00:00Z", "sentAt": "2025-03-01T10:00:05Z"}`,
		`{"userId": "u1", "groupId": "acme", "traits": {"name": "Acme", "employees": 250}}`,
		`{"userId": "u1", "previousId": "anon-1"}`,
		`{"sentAt": "2025-03-01T12:00:00Z", "context": {"page": {"url": "https://x.io"}}, "batch": [
			{"type": "track", "userId": "u", "event": "Field Changed", "messageId": "b1"},
			{"type": "identify", "userId": "u", "traits": {"n": 1e400}, "messageId": "b2"},
			{"type": "group", "userId": "u", "groupId": "g\u202e", "messageId": "b3"},
			{"type": "alias", "userId": "u", "previousId": "p", "messageId": "b4"}]}`,
		`{"batch": [{"type": "track", "userId": "u", "event": "Ok", "messageId": "d"}, {"type": "track", "userId": "u", "event": "Other", "messageId": "d"}]}`,
		`{"userId": "u", "event": "x", "integrations": ` + strings.Repeat(`[`, 50) + strings.Repeat(`]`, 50) + `}`,
		`{"userId": "` + strings.Repeat("u", 300) + `", "event": "x"}`,
		`{"userId": "u", "event": "x", "timestamp": "1999-01-01T00:00:00Z"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s), i%2 == 0)
	}
	for i, h := range hostile {
		f.Add(uint8(i), []byte(`{"userId": "u", "event": "x", "name": "n", "groupId": "g", "previousId": "p", "properties": `+h+`, "traits": `+h+`}`), false)
		f.Add(uint8(6), []byte(`{"batch": [{"type": "identify", "userId": "u", "traits": `+h+`}], "context": `+h+`}`), true)
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, admin bool) {
		fe.post(t, routes[int(route)%len(routes)], body, admin)
	})
}
