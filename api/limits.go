package api

// The limits of what the ingestion routes accept. Everything a client sends
// that is stored in the event log — ids, types, tags, emails, properties,
// traits, fields — and the Segment context it is read from passes through
// the checks of this file, so that nothing the engine cannot apply (a
// number beyond float64, a NUL byte PostgreSQL refuses, an id Temporal
// refuses) ever reaches the log. Every problem names its JSON path.

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// Limits of the values an event may carry.
const (
	// maxDepth is how deep properties, traits, fields and context may nest:
	// the object itself is level 1, an object or array inside it level 2.
	maxDepth = 32
	// maxBodyDepth bounds nesting anywhere in a request body, ignored
	// fields included: the envelope (body, batch, message) plus maxDepth.
	maxBodyDepth = maxDepth + 8
	// maxKeys is how many members one object may have (counted per object,
	// at every level: properties may hold 200 keys, and so may each object
	// inside them).
	maxKeys = 200
	// maxStringBytes is the longest string value, in UTF-8 bytes.
	maxStringBytes = 32 << 10
	// maxKeyBytes is the longest object key, in UTF-8 bytes.
	maxKeyBytes = 256
	// maxEmailBytes is the longest email address (RFC 5321).
	maxEmailBytes = 254
	// maxExactNumber bounds numbers: below 2^53 in magnitude every integer
	// is exact in a float64, which is how the engine reads them.
	maxExactNumber = 1 << 53
	// minNumber is the smallest magnitude of a number that is not zero;
	// below it a float64 loses digits (subnormals) or becomes 0.
	minNumber = 1e-300
)

// earliestEvent is the earliest time an event may carry.
var earliestEvent = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// checkID reports an id (contact, event, account, tag) that is empty, too
// long, or holds control, zero-width or bidirectional-override characters:
// ids become database keys, workflow ids and idempotency keys, and two ids
// that look the same must be the same.
func checkID(s string) string {
	switch {
	case strings.TrimSpace(s) == "":
		return "must not be empty"
	case len(s) > maxIDLen:
		return fmt.Sprintf("is %d bytes long; ids may be at most %d bytes", len(s), maxIDLen)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if msg := badIDRune(r); msg != "" {
			return msg
		}
	}
	return ""
}

// badIDRune names a character an id must not hold.
func badIDRune(r rune) string {
	switch {
	case r == 0:
		return "must not contain NUL (\\u0000)"
	case unicode.IsControl(r):
		return fmt.Sprintf("must not contain control characters (found %U)", r)
	case r >= 0x200B && r <= 0x200D, r == 0x2060, r == 0xFEFF:
		return fmt.Sprintf("must not contain zero-width characters (found %U)", r)
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return fmt.Sprintf("must not contain bidirectional-override characters (found %U)", r)
	}
	return ""
}

// checkText reports a string value that is too long or holds characters
// the log cannot keep or a reader would not see: NUL (PostgreSQL refuses
// \u0000 in jsonb and text) and control characters other than tab, line
// feed and carriage return, which are legitimate in text.
func checkText(s string) string {
	if len(s) > maxStringBytes {
		return fmt.Sprintf("is %d bytes long; strings may be at most %d bytes (32 KiB)", len(s), maxStringBytes)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0:
			return "must not contain NUL (\\u0000): PostgreSQL cannot store it"
		case r == '\t' || r == '\n' || r == '\r':
		case unicode.IsControl(r):
			return fmt.Sprintf("must not contain control characters other than tab, line feed and carriage return (found %U)", r)
		}
	}
	return ""
}

// checkKey reports an object key that is too long or holds control
// characters.
func checkKey(k string) string {
	if len(k) > maxKeyBytes {
		return fmt.Sprintf("key is %d bytes long; keys may be at most %d bytes", len(k), maxKeyBytes)
	}
	if !utf8.ValidString(k) {
		return "key is not valid UTF-8"
	}
	for _, r := range k {
		if r == 0 {
			return "key must not contain NUL (\\u0000)"
		}
		if unicode.IsControl(r) {
			return fmt.Sprintf("key must not contain control characters (found %U)", r)
		}
	}
	return ""
}

// checkNumber reports a JSON number the log and the engine would not keep
// the same: beyond float64 (1e400), an integer past 2^53 (whose float64 is
// another number) or a non-zero number so small it becomes 0 or loses
// digits.
func checkNumber(lit string) string {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprintf("%s is beyond the range of a 64-bit float; numbers must be within ±2^53 (±9007199254740992)", clip(lit))
	}
	a := math.Abs(f)
	if a >= maxExactNumber {
		return fmt.Sprintf("%s is not within ±2^53 (±9007199254740992), where numbers stay exact; send it as a string", clip(lit))
	}
	if a < minNumber && nonZeroLiteral(lit) {
		return fmt.Sprintf("%s is too small: a number other than 0 must be at least 1e-300 in magnitude", clip(lit))
	}
	return ""
}

// nonZeroLiteral reports whether a JSON number's digits (before any
// exponent) hold something other than zeros.
func nonZeroLiteral(lit string) bool {
	for _, c := range lit {
		switch {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

// clip shortens a literal quoted in a message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// checkValue walks a decoded JSON value (json.Number for numbers) at path
// and reports every value, key and nesting beyond the limits. depth is the
// level of v: 1 for the properties object itself.
func checkValue(v any, path string, depth int, p *problems) {
	switch x := v.(type) {
	case map[string]any:
		if depth > maxDepth {
			p.add(path, "is nested %d levels deep; properties, traits and context may nest at most %d levels", depth, maxDepth)
			return
		}
		if len(x) > maxKeys {
			p.add(path, "has %d keys; an object may have at most %d", len(x), maxKeys)
		}
		for _, k := range sortedKeys(x) {
			kp := field(path, k)
			if msg := checkKey(k); msg != "" {
				p.add(kp, "%s", msg)
			}
			checkValue(x[k], kp, depth+1, p)
		}
	case []any:
		if depth > maxDepth {
			p.add(path, "is nested %d levels deep; properties, traits and context may nest at most %d levels", depth, maxDepth)
			return
		}
		for i, it := range x {
			checkValue(it, index(path, i), depth+1, p)
		}
	case []string: // tags and lists the routes build
		for i, it := range x {
			checkValue(it, index(path, i), depth+1, p)
		}
	case string:
		if msg := checkText(x); msg != "" {
			p.add(path, "%s", msg)
		}
	case json.Number:
		if msg := checkNumber(x.String()); msg != "" {
			p.add(path, "%s", msg)
		}
	case float64:
		if msg := checkNumber(strconv.FormatFloat(x, 'g', -1, 64)); msg != "" {
			p.add(path, "%s", msg)
		}
	case bool, nil:
	default:
		p.add(path, "holds a value of an unexpected kind (%T)", v)
	}
}

// checkObject checks an object the log stores (properties, traits, fields)
// or an event is read from (context).
func checkObject(m map[string]any, path string, p *problems) {
	if m != nil {
		checkValue(m, path, 1, p)
	}
}

// checkTime reports an event time before 2000 or more than 24 hours ahead
// of now.
func checkTime(t, now time.Time, path string, p *problems) {
	switch {
	case t.Before(earliestEvent):
		p.add(path, "%s is before 2000-01-01; send the time the event happened, in RFC 3339 with its zone",
			t.UTC().Format(time.RFC3339))
	case t.After(now.Add(maxFuture)):
		p.add(path, "is more than 24h in the future (%s); send the time the event happened, in RFC 3339 with its zone",
			t.UTC().Format(time.RFC3339))
	}
}

// checkType reports an event type a client may not send: one the engine
// raises itself (field_changed, segment_entered, …), checked after
// normalization.
func checkType(typ string) string {
	if flows.IsDerivedEventType(typ) {
		return fmt.Sprintf("%q is an event type the engine raises itself; clients may not send it (reserved: %s)",
			typ, strings.Join(flows.DerivedEventTypes(), ", "))
	}
	return ""
}

// checkEvent is the last check of an event before it is appended: every
// stored value within the limits, whichever route built it, and nothing
// that needs the admin key sent with the ingest key. path is the event's
// path in the request ("" for a single event).
func checkEvent(e store.EventRow, path string, admin bool, p *problems) {
	if e.ID != "" { // events without one get a generated id
		if msg := checkID(e.ID); msg != "" {
			p.add(field(path, "id"), "%s", msg)
		}
	}
	if msg := checkID(e.ContactID); msg != "" {
		p.add(field(path, "contact_id"), "%s", msg)
	}
	if e.AccountID != nil {
		if msg := checkID(*e.AccountID); msg != "" {
			p.add(field(path, "account_id"), "%s", msg)
		}
	}
	if e.Email != nil {
		if msg := checkText(*e.Email); msg != "" {
			p.add(field(path, "email"), "%s", msg)
		} else if len(*e.Email) > maxEmailBytes {
			p.add(field(path, "email"), "is %d bytes long; an email address may be at most %d bytes", len(*e.Email), maxEmailBytes)
		}
	}
	if msg := checkType(e.Type); msg != "" {
		p.add(field(path, "type"), "%s", msg)
	} else if e.Type == "" || len(e.Type) > maxTypeLen {
		p.add(field(path, "type"), "must be 1 to %d characters long", maxTypeLen)
	} else if msg := checkID(e.Type); msg != "" {
		p.add(field(path, "type"), "%s", msg)
	}
	for i, t := range e.Tags {
		if msg := checkID(t); msg != "" {
			p.add(index(field(path, "tags"), i), "%s", msg)
		}
	}
	checkObject(e.Properties, field(path, "properties"), p)
	checkObject(e.Traits, field(path, "traits"), p)
	if !admin {
		checkPrivileged(e, path, p)
	}
}

// checkPrivileged reports the contact changes only the admin key may make:
// removing tags (an identify event's properties.remove_tags) and writing
// account traits (a group event's properties.account_traits). The ingest
// key is public wherever a browser carries it.
func checkPrivileged(e store.EventRow, path string, p *problems) {
	if _, ok := e.Properties["remove_tags"]; ok && e.Type == "identify" {
		p.add(field(field(path, "properties"), "remove_tags"), "removing tags needs the admin key (POST /v1/contacts with remove_tags)")
	}
	if _, ok := e.Properties["account_traits"]; ok && e.Type == "group" {
		p.add(field(field(path, "properties"), "account_traits"), "writing account traits needs the admin key (a Segment group call made with it)")
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
