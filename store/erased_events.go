package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErasedContactError says that events name erased contacts: the event at
// Indexes[k] names one by its Fields[k] ("contact_id", "anonymous_id": the
// id an identify or alias says is the same person, or "email"). Such
// events are never stored (AppendEvents).
type ErasedContactError struct {
	Indexes []int
	Fields  []string
	set     map[int]bool
}

func (e *ErasedContactError) Error() string {
	return fmt.Sprintf("event %d names an erased contact by its %s; an erased contact is never recreated", e.Indexes[0], e.Fields[0])
}

func (e *ErasedContactError) has(i int) bool { return e.set[i] }

// eventEmails returns the emails an event carries (its email and a string
// traits.email), lower-cased and trimmed as erasure hashes them.
func eventEmails(e EventRow) []string {
	var out []string
	if e.Email != nil && strings.TrimSpace(*e.Email) != "" {
		out = append(out, strings.ToLower(strings.TrimSpace(*e.Email)))
	}
	if s, ok := e.Traits["email"].(string); ok && strings.TrimSpace(s) != "" {
		out = append(out, strings.ToLower(strings.TrimSpace(s)))
	}
	return out
}

// erasedEvents finds the events that name an erased contact, under a
// shared advisory lock on each contact id held until tx ends: an erasure
// of one of them (which takes the lock exclusively) waits for this append
// to commit and then erases its events too, and an append that waited for
// an erasure sees it. Two statements, one round trip: the check must see
// what committed while the lock was awaited.
func erasedEvents(ctx context.Context, tx pgx.Tx, events []EventRow) (*ErasedContactError, error) {
	out := &ErasedContactError{set: map[int]bool{}}
	ids := make([]string, 0, len(events))
	seen := map[string]bool{}
	var values []string
	for _, e := range events {
		if !seen[e.ContactID] {
			seen[e.ContactID] = true
			ids = append(ids, e.ContactID)
		}
		values = append(values, e.ContactID)
		if e.MergeFrom != "" {
			values = append(values, e.MergeFrom)
		}
		values = append(values, eventEmails(e)...)
	}
	sort.Strings(ids)
	b := &pgx.Batch{}
	b.Queue(`SELECT count(pg_advisory_xact_lock_shared($1, hashtext(c))) FROM unnest($2::text[]) c`, erasureLockClass, ids)
	// erasure_hash inlined, with the salt read once.
	b.Queue(`WITH salt AS (SELECT id || ':' AS s FROM deployment WHERE EXISTS (SELECT 1 FROM erasure_log))
		SELECT coalesce(array_agg(v), '{}') FROM (SELECT DISTINCT unnest($1::text[]) AS v) vs, salt
		WHERE EXISTS (SELECT 1 FROM erased_identifiers WHERE hash = encode(sha256(convert_to(salt.s || vs.v, 'UTF8')), 'hex'))`, values)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("error locking the events' contacts against erasure: %w", err)
	}
	var hits []string
	if err := br.QueryRow().Scan(&hits); err != nil {
		return nil, fmt.Errorf("error looking up erased contacts: %w", err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("error looking up erased contacts: %w", err)
	}
	if len(hits) == 0 {
		return out, nil
	}
	erased := make(map[string]bool, len(hits))
	for _, h := range hits {
		erased[h] = true
	}
	for i, e := range events {
		field := ""
		switch {
		case erased[e.ContactID]:
			field = "contact_id"
		case e.MergeFrom != "" && erased[e.MergeFrom]:
			field = "anonymous_id" // or an alias's previous id: the same person
		default:
			for _, m := range eventEmails(e) {
				if erased[m] {
					field = "email"
					break
				}
			}
		}
		if field != "" {
			out.Indexes = append(out.Indexes, i)
			out.Fields = append(out.Fields, field)
			out.set[i] = true
		}
	}
	return out, nil
}
