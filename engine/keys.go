package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// IdemKey is the idempotency key of an effect (a ledger row, a CRM task, a
// delivery): kind, a colon and the SHA-256 of the length-prefixed parts.
// Ids are free text, so joining them with a separator is ambiguous (contact
// "a" + event "b:c" would equal contact "a:b" + event "c"); each part here
// is preceded by its length, so two different tuples never give the same
// key, and the key has a fixed length whatever the ids.
func IdemKey(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(lengthPrefixed(parts...)))
	return kind + ":" + hex.EncodeToString(h.Sum(nil))
}

// lengthPrefixed encodes parts as "<len>:<part>" one after the other: an
// unambiguous encoding of a tuple of strings.
func lengthPrefixed(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// EngagementKey is the idempotency key of the points an engagement rule
// gives for an event of the log (the root of its chain).
func EngagementKey(contactID, model, ruleID, eventID string) string {
	return IdemKey("rule", contactID, model, ruleID, "event", eventID, "0")
}

// escapeIDPart percent-escapes '%' and '/' so that a free-text id can be one
// segment of a '/'-separated derived id.
func escapeIDPart(s string) string {
	if !strings.ContainsAny(s, "%/") {
		return s
	}
	s = strings.ReplaceAll(s, "%", "%25")
	return strings.ReplaceAll(s, "/", "%2F")
}

// derivedID is the id of the n-th event derived in a chain whose root has
// id root: "<root>/<n>/<kind>[/<detail>…]", root and details escaped so
// that the id reads back unambiguously, and n (unique within the chain)
// keeps two events of one chain apart even when they say the same thing (a
// tag added, removed and added again).
func derivedID(root string, n int, kind string, details ...string) string {
	id := escapeIDPart(root) + "/" + strconv.Itoa(n) + "/" + kind
	for _, d := range details {
		id += "/" + escapeIDPart(d)
	}
	return id
}
