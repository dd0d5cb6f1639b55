package engine

import "github.com/leadflow/leadflow/contact"

// IdemKey is the idempotency key of an effect (see contact.IdemKey).
func IdemKey(kind string, parts ...string) string { return contact.IdemKey(kind, parts...) }

// EngagementKey is the idempotency key of the points an engagement rule
// gives for an event of the log (see contact.EngagementKey).
func EngagementKey(contactID, model, ruleID, eventID string) string {
	return contact.EngagementKey(contactID, model, ruleID, eventID)
}

// The workflow ids of runs are contract.RunWorkflowID.
