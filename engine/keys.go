package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"

	"github.com/leadflow/leadflow/contact"
)

// IdemKey is the idempotency key of an effect (see contact.IdemKey).
func IdemKey(kind string, parts ...string) string { return contact.IdemKey(kind, parts...) }

// EngagementKey is the idempotency key of the points an engagement rule
// gives for an event of the log (see contact.EngagementKey).
func EngagementKey(contactID, model, ruleID, eventID string) string {
	return contact.EngagementKey(contactID, model, ruleID, eventID)
}

// RunWorkflowID is the workflow id of a flow run within a deployment (the
// dispatcher prefixes it with the task queue). Run ids contain the contact
// id, free text of any length: past maxWorkflowIDPart bytes the id is
// shortened with a hash of the whole (boundedID), so Temporal never refuses
// it. Shorter ids are unchanged, so runs in flight keep their workflow.
func RunWorkflowID(runID string) string { return boundedID("run/" + runID) }

// maxWorkflowIDPart bounds the part of a workflow id the engine derives
// from free-text ids; Temporal refuses ids past its limit (1,000 bytes by
// default), and the task queue comes in front.
const maxWorkflowIDPart = 200

// boundedID returns id unchanged when it has at most maxWorkflowIDPart
// bytes, else a prefix of it, "~" and the SHA-256 of the whole (hex, 32
// characters): still unique, readable and bounded.
func boundedID(id string) string {
	if len(id) <= maxWorkflowIDPart {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	cut := maxWorkflowIDPart - 33
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return id[:cut] + "~" + hex.EncodeToString(sum[:16])
}
