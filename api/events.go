package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/strictjson"
)

var validate = validator.New()

// acceptedResponse answers POST /v1/events: Accepted events were new,
// Duplicates were already in the log (same id), IDs are the ids of the
// request's events in order (generated ones included).
// Conflicts (Segment routes only) were events whose id was already used
// for a different event: acknowledged as Segment does but not stored.
// Erased (Segment routes and integrations only) were events naming an
// erased contact: acknowledged, never stored (POST /v1/events and
// POST /v1/contacts refuse them with 410).
type acceptedResponse struct {
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Conflicts  int      `json:"conflicts,omitempty"`
	Erased     int      `json:"erased,omitempty"`
	IDs        []string `json:"ids"`
}

var eventFields = []string{"id", "type", "contact_id", "email", "properties", "timestamp"}

// newEventID returns a random event id for events sent without one.
func newEventID() string { return "evt_" + rand.Text() }

func present(m map[string]*strictjson.Node, key string) bool { return !isNull(m[key]) }

// eventType reads an event type: any name up to 100 characters, normalized
// to snake_case the way the Segment routes do ("Trial Started" →
// "trial_started"), so that flows match whatever casing a client sends.
// Types the engine raises itself are refused, after normalization
// ("Field Changed" is field_changed).
func eventType(s string) (string, string) {
	if len(s) > maxTypeLen {
		return "", fmt.Sprintf("must be at most %d characters long", maxTypeLen)
	}
	if msg := checkID(s); msg != "" && strings.TrimSpace(s) != "" {
		return "", msg
	}
	n := s
	if !isSnake(s) {
		n = normalizeEventName(s)
	}
	if n == "" {
		return "", fmt.Sprintf("%q has no letters or digits; use a name such as \"page_visited\" or \"trial_started\"", s)
	}
	if msg := checkType(n); msg != "" {
		return "", msg
	}
	return n, ""
}

// isSnake reports a type already in its stored form: lower-case letters,
// digits and _ . : - starting with a letter or digit.
func isSnake(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '_' || r == '.' || r == ':' || r == '-')) {
			return false
		}
	}
	return true
}

func checkEmail(s string) string {
	if len(s) > maxEmailBytes {
		return fmt.Sprintf("is %d bytes long; an email address may be at most %d bytes", len(s), maxEmailBytes)
	}
	if err := validate.Var(s, "required,email"); err != nil {
		return fmt.Sprintf("%q is not a valid email address", s)
	}
	return ""
}

// contactFromEmail is the contact id of a contact sent by email only: the
// lower-cased email, which must be a valid id too.
func contactFromEmail(email, path string, p *problems) string {
	id := strings.ToLower(email)
	if msg := checkID(id); msg != "" {
		p.add(path, "the contact id derived from the email (its lower-cased form) %s", msg)
	}
	return id
}

// parseTime reads an RFC 3339 time (ISO 8601 without a zone is taken as UTC).
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// decodeEvent decodes and validates one event of POST /v1/events strictly.
func decodeEvent(raw *strictjson.Node, path string, now time.Time, p *problems) store.EventRow {
	e := store.EventRow{OccurredAt: now}
	m, ok := object(raw, path, p)
	if !ok {
		return e
	}
	strict(m, eventFields, path, p)
	if id, ok := str(m, "id", path, p); ok {
		if msg := checkID(id); msg != "" {
			p.add(field(path, "id"), "%s", msg)
		}
		e.ID = id
	}
	if !present(m, "type") {
		p.add(field(path, "type"), "is required: the event type, e.g. \"email_clicked\", \"page_visited\" or a custom name")
	} else if typ, ok := str(m, "type", path, p); ok {
		norm, msg := eventType(typ)
		if msg != "" {
			p.add(field(path, "type"), "%s", msg)
		}
		e.Type = norm
	}
	email, hasEmail := str(m, "email", path, p)
	if hasEmail {
		email = strings.TrimSpace(email)
		if msg := checkEmail(email); msg != "" {
			p.add(field(path, "email"), "%s", msg)
			hasEmail = false
		} else {
			e.Email = &email
		}
	}
	if contactID, ok := str(m, "contact_id", path, p); ok {
		if msg := checkID(contactID); msg != "" {
			p.add(field(path, "contact_id"), "%s", msg)
		}
		e.ContactID = contactID
	} else if !present(m, "contact_id") {
		if hasEmail {
			e.ContactID = contactFromEmail(email, field(path, "email"), p)
		} else if !present(m, "email") {
			p.add(field(path, "contact_id"), "is required (or send \"email\": the contact id is then the lower-cased email)")
		}
	}
	if props, ok := anyObject(m, "properties", path, p); ok {
		e.Properties = props
	}
	if ts, ok := str(m, "timestamp", path, p); ok {
		t, ok := parseTime(ts)
		if !ok {
			p.add(field(path, "timestamp"), "%q is not an RFC 3339 time such as \"2025-03-01T09:30:00Z\"", ts)
		} else {
			checkTime(t, now, field(path, "timestamp"), p)
			e.OccurredAt = t
		}
	}
	return e
}

func (s *server) postEvents(w http.ResponseWriter, r *http.Request) {
	body, err := s.readIngest(w, r)
	if err != nil {
		s.failIngest(w, r, metrics.SourceEvents, err)
		return
	}
	now := s.cfg.Now()
	var p problems
	var events []store.EventRow
	var paths []string
	top, ok := object(body, "", &p)
	switch {
	case !ok:
		p.list = []detail{{Path: "", Message: fmt.Sprintf("must be an event object or {\"batch\": [...]}, not %s", body.Kind)}}
	case top["batch"] != nil:
		strict(top, []string{"batch"}, "", &p)
		items, ok := batchItems(top["batch"], "batch", &p)
		if ok {
			for i, it := range items {
				events = append(events, decodeEvent(it, index("batch", i), now, &p))
				paths = append(paths, index("batch", i))
			}
		}
	default:
		events = append(events, decodeEvent(body, "", now, &p))
		paths = append(paths, "")
	}
	in := incoming{events: events, paths: paths, idKey: "id", source: metrics.SourceEvents, policy: store.ConflictRefuse}
	res, err := s.accept(r, in, &p)
	if err != nil {
		s.failIngest(w, r, metrics.SourceEvents, err)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

// batchItems reads the array of a batch: 1 to MaxBatch items.
func batchItems(raw *strictjson.Node, path string, p *problems) ([]*strictjson.Node, bool) {
	if raw.Kind != strictjson.Array {
		p.add(path, "must be an array of events, not %s", raw.Kind)
		return nil, false
	}
	items := raw.Items
	switch {
	case len(items) == 0:
		p.add(path, "must hold at least one event")
		return nil, false
	case len(items) > MaxBatch:
		p.add(path, "holds %d events; send at most %d per request", len(items), MaxBatch)
		return nil, false
	}
	return items, true
}

// incoming is what an ingestion request asks to append: its events, each
// event's path in the request and the member its id came from (for the
// messages), where it came from and what a reused id with other content
// does.
type incoming struct {
	events []store.EventRow
	paths  []string
	idKey  string
	source string
	policy store.ConflictPolicy
}

func (in incoming) idPath(i int) string { return field(in.paths[i], in.idKey) }

// accept checks the decoded events a last time (p holds the problems found
// decoding them), gives events without an id a random one, appends them to
// the log in one transaction, wakes their partitions and counts them.
// Nothing is appended when there is any problem, or, with ConflictRefuse,
// any conflict (409 naming every conflicting id).
func (s *server) accept(r *http.Request, in incoming, p *problems) (acceptedResponse, error) {
	if p.empty() {
		admin := isAdmin(r)
		for i, e := range in.events {
			checkEvent(e, in.paths[i], admin, p)
		}
	}
	if err := p.err(); err != nil {
		return acceptedResponse{}, err
	}
	if len(in.events) == 0 {
		return acceptedResponse{}, badRequest([]detail{{Message: "no events"}})
	}
	ctx := r.Context()
	events := in.events
	ids := make([]string, len(events))
	for i := range events {
		if events[i].ID == "" {
			events[i].ID = newEventID()
		}
		ids[i] = events[i].ID
	}
	res, err := s.cfg.Store.AppendEvents(ctx, events, in.policy)
	var conflict *store.EventConflictError
	if errors.As(err, &conflict) {
		metrics.EventsConflicts.WithLabelValues(in.source).Add(float64(len(conflict.Indexes)))
		details := make([]detail, 0, len(conflict.Indexes))
		for _, i := range conflict.Indexes {
			details = append(details, detail{Path: in.idPath(i), Message: fmt.Sprintf(
				"%q was already used for an event with a different type, contact or content; send a new id for a new event", events[i].ID)})
		}
		msg := fmt.Sprintf("event id %q was already used for a different event", conflict.IDs[0])
		if n := len(conflict.IDs); n > 1 {
			msg += fmt.Sprintf(" (and %d more, see details)", n-1)
		}
		return acceptedResponse{}, &requestError{status: http.StatusConflict, msg: msg + "; nothing of this request was stored", details: details}
	}
	var erased *store.ErasedContactError
	if errors.As(err, &erased) {
		return acceptedResponse{}, s.erasedRefusal(in, erased)
	}
	if err != nil {
		return acceptedResponse{}, err
	}
	s.logErased(in.events, res, in.source)
	if res.Conflicts > 0 {
		metrics.EventsConflicts.WithLabelValues(in.source).Add(float64(res.Conflicts))
		for i, o := range res.Outcomes {
			if o == store.EventConflict {
				s.log.Warn().Str("event_id", events[i].ID).Str("contact_id", events[i].ContactID).Str("type", events[i].Type).
					Str("source", in.source).Msg("event id already used for a different event; the new one was not stored")
			}
		}
	}
	metrics.EventsAccepted.WithLabelValues(in.source).Add(float64(res.Inserted))
	s.wake(ctx, res.Partitions)
	return acceptedResponse{Accepted: res.Inserted, Duplicates: res.Duplicates, Conflicts: res.Conflicts, Erased: res.Erased, IDs: ids}, nil
}

// failIngest answers an error of an ingestion route, counting refusals.
// A request refused as a whole says that nothing of it was stored.
func (s *server) failIngest(w http.ResponseWriter, r *http.Request, source string, err error) {
	var re *requestError
	if errors.As(err, &re) && re.status >= 400 && re.status < 500 {
		metrics.RequestsRefused.WithLabelValues(source).Inc()
		if re.status != http.StatusConflict && !strings.Contains(re.msg, "nothing of this request was stored") {
			re.msg += "; nothing of this request was stored"
		}
	}
	s.fail(w, r, err)
}

// wake tells the engine which partitions have new events. The events are
// committed already: a cancelled request must not keep them from being
// woken, and a failed wake-up only delays them until the partition polls.
func (s *server) wake(ctx context.Context, partitions []int) {
	if s.cfg.Waker == nil || s.cfg.InsertsNotify || len(partitions) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.cfg.Waker.Wake(ctx, partitions)
}

// pendingResponse answers POST /v1/contacts when its event was not applied
// within ContactWait.
type pendingResponse struct {
	Status  string `json:"status"`
	EventID string `json:"event_id"`
}

var contactFields = []string{"contact_id", "email", "fields", "tags", "remove_tags", "account_id", "event_id"}

func checkTags(tags []string, path string, p *problems) {
	for i, t := range tags {
		if len(t) > maxTypeLen {
			p.add(index(path, i), "must be at most %d characters long", maxTypeLen)
		} else if msg := checkID(t); msg != "" {
			p.add(index(path, i), "%s", msg)
		}
	}
}

// postContact turns a contact upsert into an identify event, then waits a
// little for the engine to apply it so the answer can show the contact.
func (s *server) postContact(w http.ResponseWriter, r *http.Request) {
	body, err := s.readIngest(w, r)
	if err != nil {
		s.failIngest(w, r, metrics.SourceContacts, err)
		return
	}
	now := s.cfg.Now()
	var p problems
	m, ok := object(body, "", &p)
	e := store.EventRow{Type: "identify", OccurredAt: now}
	if ok {
		strict(m, contactFields, "", &p)
		if id, ok := str(m, "event_id", "", &p); ok {
			if msg := checkID(id); msg != "" {
				p.add("event_id", "%s", msg)
			}
			e.ID = id
		}
		email, hasEmail := str(m, "email", "", &p)
		if hasEmail {
			email = strings.TrimSpace(email)
			if msg := checkEmail(email); msg != "" {
				p.add("email", "%s", msg)
				hasEmail = false
			} else {
				e.Email = &email
			}
		}
		if id, ok := str(m, "contact_id", "", &p); ok {
			if msg := checkID(id); msg != "" {
				p.add("contact_id", "%s", msg)
			}
			e.ContactID = id
		} else if !present(m, "contact_id") {
			if hasEmail {
				e.ContactID = contactFromEmail(email, "email", &p)
			} else if !present(m, "email") {
				p.add("contact_id", "is required (or send \"email\": the contact id is then the lower-cased email)")
			}
		}
		if fields, ok := anyObject(m, "fields", "", &p); ok {
			e.Traits = fields
		}
		if tags, ok := strList(m, "tags", "", &p); ok {
			checkTags(tags, "tags", &p)
			e.Tags = tags
		}
		if remove, ok := strList(m, "remove_tags", "", &p); ok {
			checkTags(remove, "remove_tags", &p)
			if len(remove) > 0 {
				e.Properties = map[string]any{"remove_tags": remove}
			}
		}
		if acc, ok := str(m, "account_id", "", &p); ok {
			if msg := checkID(acc); msg != "" {
				p.add("account_id", "%s", msg)
			}
			e.AccountID = &acc
		}
	}
	in := incoming{events: []store.EventRow{e}, paths: []string{""}, idKey: "event_id", source: metrics.SourceContacts, policy: store.ConflictRefuse}
	res, err := s.accept(r, in, &p)
	if err != nil {
		s.failIngest(w, r, metrics.SourceContacts, err)
		return
	}
	eventID := res.IDs[0]
	ctx := r.Context()
	deadline := time.Now().Add(s.cfg.ContactWait)
	ticker := time.NewTicker(contactPoll)
	defer ticker.Stop()
	for {
		st, err := s.cfg.Store.EventStatus(ctx, eventID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if st.Exists && st.ContactID != e.ContactID {
			writeError(w, http.StatusConflict, fmt.Sprintf("event_id %q was already used for contact %q; use another event_id", eventID, st.ContactID),
				detail{Path: "event_id", Message: "already used for another contact"})
			return
		}
		if st.AppliedAt != nil {
			break
		}
		if !time.Now().Before(deadline) {
			writeJSON(w, http.StatusAccepted, pendingResponse{Status: "pending", EventID: eventID})
			return
		}
		select {
		case <-ctx.Done():
			s.fail(w, r, ctx.Err())
			return
		case <-ticker.C:
		}
	}
	view, models, err := s.contactView(ctx, e.ContactID)
	if err != nil {
		if err == store.ErrNotFound {
			writeJSON(w, http.StatusAccepted, pendingResponse{Status: "pending", EventID: eventID})
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactJSON(view, models))
}
