package api

// The Segment-compatible tracking API: a site or app that already uses a
// Segment library can point it here (the write key is the ingest key).
// Segment libraries send many fields leadflow does not use; unknown fields
// are ignored, but fields leadflow uses must have the right type.

import (
	"net/http"
	"strings"
	"time"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/strictjson"
)

// segmentTypes are the message types /v1/batch accepts.
var segmentTypes = []string{"track", "identify", "page", "screen", "group", "alias"}

// segmentResponse answers the Segment routes: Segment's {"success": true}
// plus what the log did with the messages.
type segmentResponse struct {
	Success bool `json:"success"`
	acceptedResponse
	// Ignored lists what was received but not applied, and why (a group
	// call's traits sent with the ingest key).
	Ignored []detail `json:"ignored,omitempty"`
}

// segmentRequest is what the messages of one Segment request share.
type segmentRequest struct {
	context map[string]any // the batch's context, for messages without one
	sentAt  *time.Time     // the batch's sentAt
	now     time.Time
	admin   bool      // sent with the admin key
	ignored *problems // what is received but not applied
}

// normalizeEventName turns a Segment event name into an event type:
// lower-case, runs of anything but letters and digits become "_", trimmed
// ("Trial Started" → "trial_started").
func normalizeEventName(name string) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteRune(r)
			continue
		}
		pending = true
	}
	return b.String()
}

// segmentID reads userId / anonymousId: a string, or a number taken as its
// text (some libraries send numeric ids).
func segmentID(m map[string]*strictjson.Node, key, path string, p *problems) string {
	raw := m[key]
	if isNull(raw) {
		return ""
	}
	switch raw.Kind {
	case strictjson.String:
		return strings.TrimSpace(raw.Text)
	case strictjson.Number:
		return raw.Text
	}
	p.add(field(path, key), "must be a string, not %s", raw.Kind)
	return ""
}

// segmentTime is when a message happened: timestamp; else originalTimestamp
// corrected for the client's clock skew with sentAt (as Segment does); else
// the time it was received.
func segmentTime(m map[string]*strictjson.Node, path string, batchSentAt *time.Time, now time.Time, p *problems) time.Time {
	read := func(key string) (time.Time, bool) {
		s, ok := str(m, key, path, p)
		if !ok {
			return time.Time{}, false
		}
		t, ok := parseTime(s)
		if !ok {
			p.add(field(path, key), "%q is not an ISO 8601 time such as \"2025-03-01T09:30:00.000Z\"", s)
		}
		return t, ok
	}
	var at time.Time
	ts, hasTS := read("timestamp")
	orig, hasOrig := read("originalTimestamp")
	sent, hasSent := read("sentAt")
	if !hasSent && batchSentAt != nil {
		sent, hasSent = *batchSentAt, true
	}
	switch {
	case hasTS:
		at = ts
	case hasOrig && hasSent:
		at = now.Add(-sent.Sub(orig))
	case hasOrig:
		at = orig
	default:
		return now
	}
	key := "timestamp"
	if !hasTS {
		key = "originalTimestamp"
	}
	checkTime(at, now, field(path, key), p)
	return at
}

// segmentMessage maps one Segment message of type typ to an event.
func segmentMessage(typ string, raw *strictjson.Node, path string, req segmentRequest, p *problems) store.EventRow {
	batchContext, batchSentAt, now := req.context, req.sentAt, req.now
	e := store.EventRow{OccurredAt: now}
	m, ok := object(raw, path, p)
	if !ok {
		return e
	}
	userID := segmentID(m, "userId", path, p)
	anonID := segmentID(m, "anonymousId", path, p)
	e.ContactID = userID
	if e.ContactID == "" {
		e.ContactID = anonID
	}
	if e.ContactID == "" {
		p.add(field(path, "userId"), "userId or anonymousId is required")
	} else if msg := checkID(e.ContactID); msg != "" {
		p.add(field(path, "userId"), "%s", msg)
	}
	if id, ok := str(m, "messageId", path, p); ok && strings.TrimSpace(id) != "" {
		if msg := checkID(id); msg != "" {
			p.add(field(path, "messageId"), "%s", msg)
		}
		e.ID = id
	}
	ctx, _ := anyObject(m, "context", path, p)
	if ctx == nil {
		ctx = batchContext
	}
	props, _ := anyObject(m, "properties", path, p)
	traits, _ := anyObject(m, "traits", path, p)
	e.OccurredAt = segmentTime(m, path, batchSentAt, now, p)

	switch typ {
	case "track":
		name, ok := str(m, "event", path, p)
		switch {
		case !ok && !present(m, "event"):
			p.add(field(path, "event"), "is required: the name of the event, e.g. \"Trial Started\"")
		case ok:
			e.Type = normalizeEventName(name)
			switch {
			case len(name) > maxStringBytes || len(e.Type) > maxTypeLen:
				p.add(field(path, "event"), "must be at most %d characters long", maxTypeLen)
			case strings.TrimSpace(name) != "" && checkID(name) != "":
				p.add(field(path, "event"), "%s", checkID(name))
			case e.Type == "":
				p.add(field(path, "event"), "%q has no letters or digits to make an event type of", name)
			case checkType(e.Type) != "":
				p.add(field(path, "event"), "%s", checkType(e.Type))
			}
		}
		e.Properties = props
	case "page", "screen":
		e.Type = "page_visited"
		out := map[string]any{}
		for k, v := range props {
			out[k] = v
		}
		if _, ok := out["url"]; !ok {
			if page, ok := ctx["page"].(map[string]any); ok {
				if u, ok := page["url"].(string); ok {
					out["url"] = u
				}
			}
		}
		if name, ok := str(m, "name", path, p); ok {
			out["name"] = name
		}
		if cat, ok := str(m, "category", path, p); ok {
			out["category"] = cat
		}
		if typ == "screen" {
			out["screen"] = true
		}
		e.Properties = out
	case "identify":
		e.Type = "identify"
		merged := map[string]any{}
		if ct, ok := ctx["traits"].(map[string]any); ok {
			for k, v := range ct {
				merged[k] = v
			}
		}
		for k, v := range traits {
			merged[k] = v
		}
		if email, ok := merged["email"].(string); ok {
			email = strings.TrimSpace(email)
			delete(merged, "email")
			if email != "" {
				if msg := checkEmail(email); msg != "" {
					p.add(field(field(path, "traits"), "email"), "%s", msg)
				} else {
					e.Email = &email
				}
			}
		}
		e.Traits = merged
	case "group":
		e.Type = "group"
		gid := segmentID(m, "groupId", path, p)
		if gid == "" {
			if !present(m, "groupId") {
				p.add(field(path, "groupId"), "is required: the account id")
			}
		} else if msg := checkID(gid); msg != "" {
			p.add(field(path, "groupId"), "%s", msg)
		} else {
			e.AccountID = &gid
		}
		switch {
		case req.admin:
			if traits == nil {
				traits = map[string]any{}
			}
			e.Properties = map[string]any{"account_traits": traits}
		case len(traits) > 0:
			// The ingest key is public wherever analytics.js runs: it may
			// link the contact to the account, not write the account.
			req.ignored.add(field(path, "traits"), "account traits need the admin key; the contact was linked to the account, its traits were not applied")
			e.Properties = map[string]any{}
		default:
			e.Properties = map[string]any{}
		}
	case "alias":
		// Contacts are not merged: the alias is recorded as an event.
		e.Type = "alias"
		prev := segmentID(m, "previousId", path, p)
		if prev == "" {
			p.add(field(path, "previousId"), "is required for alias")
		} else if msg := checkID(prev); msg != "" {
			p.add(field(path, "previousId"), "%s", msg)
		}
		e.Properties = map[string]any{"previous_id": prev}
	}
	return e
}

// segment handles /v1/track, /v1/identify, /v1/page, /v1/screen,
// /v1/group and /v1/alias.
func (s *server) segment(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := s.readIngest(w, r)
		if err != nil {
			s.failIngest(w, r, metrics.SourceSegment, err)
			return
		}
		var p, ignored problems
		req := segmentRequest{now: s.cfg.Now(), admin: isAdmin(r), ignored: &ignored}
		e := segmentMessage(typ, body, "", req, &p)
		s.acceptSegment(w, r, []store.EventRow{e}, []string{""}, &p, &ignored)
	}
}

// segmentBatch handles /v1/batch: {"batch": [messages], "context", "sentAt"}.
func (s *server) segmentBatch(w http.ResponseWriter, r *http.Request) {
	body, err := s.readIngest(w, r)
	if err != nil {
		s.failIngest(w, r, metrics.SourceSegment, err)
		return
	}
	var p, ignored problems
	req := segmentRequest{now: s.cfg.Now(), admin: isAdmin(r), ignored: &ignored}
	var events []store.EventRow
	var paths []string
	if m, ok := object(body, "", &p); ok {
		if sa, ok := str(m, "sentAt", "", &p); ok {
			if t, ok := parseTime(sa); ok {
				req.sentAt = &t
			} else {
				p.add("sentAt", "%q is not an ISO 8601 time", sa)
			}
		}
		req.context, _ = anyObject(m, "context", "", &p)
		if !present(m, "batch") {
			p.add("batch", "is required: an array of Segment messages")
		} else if items, ok := batchItems(m["batch"], "batch", &p); ok {
			for i, it := range items {
				path := index("batch", i)
				mm, ok := object(it, path, &p)
				if !ok {
					continue
				}
				typ, ok := str(mm, "type", path, &p)
				if !ok {
					if !present(mm, "type") {
						p.add(field(path, "type"), "is required: one of %s", strings.Join(segmentTypes, ", "))
					}
					continue
				}
				known := false
				for _, t := range segmentTypes {
					known = known || t == typ
				}
				if !known {
					p.add(field(path, "type"), "%q is not a Segment message type; use one of %s", typ, strings.Join(segmentTypes, ", "))
					continue
				}
				events = append(events, segmentMessage(typ, it, path, req, &p))
				paths = append(paths, path)
			}
		}
	}
	s.acceptSegment(w, r, events, paths, &p, &ignored)
}

// acceptSegment appends the messages' events. A reused messageId with other
// content is acknowledged (Segment libraries expect messageId
// deduplication and resend what is refused) but not stored: it is counted
// in leadflow_events_conflicts_total, logged and reported in "conflicts".
func (s *server) acceptSegment(w http.ResponseWriter, r *http.Request, events []store.EventRow, paths []string, p, ignored *problems) {
	if p.empty() && len(events) == 0 {
		p.add("", "no messages")
	}
	in := incoming{events: events, paths: paths, idKey: "messageId", source: metrics.SourceSegment, policy: store.ConflictSkip}
	res, err := s.accept(r, in, p)
	if err != nil {
		s.failIngest(w, r, metrics.SourceSegment, err)
		return
	}
	writeJSON(w, http.StatusOK, segmentResponse{Success: true, acceptedResponse: res, Ignored: ignored.list})
}
