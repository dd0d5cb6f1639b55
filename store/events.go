package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventRow is one event of the durable log.
type EventRow struct {
	Seq        int64
	ID         string
	ContactID  string
	Partition  int
	Type       string
	Properties map[string]any
	// Contact changes carried by identify/contact events.
	Email      *string
	Traits     map[string]any
	Tags       []string
	AccountID  *string
	OccurredAt time.Time
	ReceivedAt time.Time
	// MergeFrom is another id the event says is the same person (the
	// anonymousId of an identified event, the previousId of an alias):
	// appending the event queues a merge of that contact into ContactID.
	// Not stored with the event.
	MergeFrom   string
	MergeReason string
	// DecodeErr says why the stored row could not be read back (a number
	// beyond float64, say): such an event cannot be applied and is
	// quarantined. Set only by PendingEvents.
	DecodeErr error
}

// EventOutcome is what appending one event did.
type EventOutcome int

const (
	// EventInserted: the id was new; the event is in the log.
	EventInserted EventOutcome = iota
	// EventDuplicate: the id was in the log with the same content; nothing
	// was written.
	EventDuplicate
	// EventConflict: the id was in the log with different content; nothing
	// was written.
	EventConflict
	// EventErased: the event names an erased contact (its contact id or
	// an email it was seen with); nothing was written.
	EventErased
)

// ConflictPolicy says what AppendEvents does when an event conflicts.
type ConflictPolicy int

const (
	// ConflictRefuse rolls the whole append back and returns an
	// *EventConflictError.
	ConflictRefuse ConflictPolicy = iota
	// ConflictSkip keeps the stored event, skips the conflicting one and
	// appends the others.
	ConflictSkip
)

// AppendResult reports an append: one outcome per event, in order, the
// counts and the partitions that received new events.
type AppendResult struct {
	Outcomes                                []EventOutcome
	Inserted, Duplicates, Conflicts, Erased int
	Partitions                              []int
}

// EventConflictError is returned by AppendEvents with ConflictRefuse: the
// events at Indexes (ids IDs) reuse ids stored with different content.
type EventConflictError struct {
	Indexes []int
	IDs     []string
}

func (e *EventConflictError) Error() string {
	return fmt.Sprintf("event id %q was already used for an event with a different type, contact or content", e.IDs[0])
}

// sameEventSQL compares the stored event with id $1 with new content. The
// JSON values are compared as jsonb, so 1, 1.0 and 1e0 are equal and key
// order does not matter; absent traits and tags equal empty ones. The time
// is not compared: a resend computes it again (Segment corrects it with
// sentAt, and an event without a timestamp takes the time it is received).
const sameEventSQL = `SELECT type = $2 AND contact_id = $3 AND properties = $4::jsonb
	AND email IS NOT DISTINCT FROM $5 AND coalesce(traits, '{}') = coalesce($6::jsonb, '{}')
	AND coalesce(tags, '{}') = coalesce($7::text[], '{}') AND account_id IS NOT DISTINCT FROM $8
	FROM events WHERE id = $1`

// AppendEvents appends events to the log in one transaction and reports,
// per event, whether it was inserted, a duplicate (its id already stored
// with the same content) or a conflict (its id stored with a different
// type, contact, properties, email, traits, tags or account). An id that
// appears twice in events is compared with its first occurrence. With
// ConflictRefuse any conflict rolls everything back and the error is an
// *EventConflictError naming every conflicting event.
//
// Events naming an erased contact (by its contact id, or an email it was
// seen with) are never stored: with ConflictRefuse the append is refused
// as a whole with an *ErasedContactError, with ConflictSkip they are
// skipped (EventErased) and the others appended.
func (s *Store) AppendEvents(ctx context.Context, events []EventRow, policy ConflictPolicy) (AppendResult, error) {
	res := AppendResult{Outcomes: make([]EventOutcome, len(events))}
	if len(events) == 0 {
		return res, nil
	}
	parts := map[int]bool{}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		res.Inserted, res.Duplicates, res.Conflicts, res.Erased = 0, 0, 0, 0
		clear(parts)
		// Events naming a contact that was merged go to the contact it
		// was merged into.
		ids := make([]string, 0, len(events))
		for _, e := range events {
			ids = append(ids, e.ContactID)
			if e.MergeFrom != "" {
				ids = append(ids, e.MergeFrom)
			}
		}
		merged, err := resolveMerged(ctx, tx, ids)
		if err != nil {
			return err
		}
		for i := range events {
			if into, ok := merged[events[i].ContactID]; ok {
				events[i].ContactID = into
			}
			if into, ok := merged[events[i].MergeFrom]; ok && into == events[i].ContactID {
				events[i].MergeFrom = "" // already one contact
			}
		}
		erased, err := erasedEvents(ctx, tx, events)
		if err != nil {
			return err
		}
		if len(erased.Indexes) > 0 && policy == ConflictRefuse {
			return erased
		}
		todo := make([]int, 0, len(events))
		for i := range events {
			if erased.has(i) {
				res.Outcomes[i] = EventErased
				res.Erased++
				continue
			}
			todo = append(todo, i)
		}
		b := &pgx.Batch{}
		for _, i := range todo {
			e := events[i]
			b.Queue(`INSERT INTO events (id, contact_id, partition, type, properties, email, traits, tags, account_id, occurred_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
				e.ID, e.ContactID, PartitionOf(e.ContactID), e.Type, eventProps(e), e.Email, eventTraits(e), e.Tags, e.AccountID, e.OccurredAt)
		}
		br := tx.SendBatch(ctx, b)
		var again []int // events whose id was there already
		for _, i := range todo {
			e := events[i]
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("error appending event %q: %w", e.ID, err)
			}
			if tag.RowsAffected() == 1 {
				res.Outcomes[i] = EventInserted
				res.Inserted++
				parts[PartitionOf(e.ContactID)] = true
			} else {
				again = append(again, i)
			}
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("error appending events: %w", err)
		}
		var merges []MergeRequest
		seen := map[MergeRequest]bool{}
		old := map[int]bool{}
		for _, i := range again {
			old[i] = true
		}
		for i, e := range events {
			if old[i] || res.Outcomes[i] == EventErased || e.MergeFrom == "" || e.MergeFrom == e.ContactID {
				continue
			}
			r := MergeRequest{From: e.MergeFrom, Into: e.ContactID, Reason: e.MergeReason}
			if !seen[r] {
				seen[r] = true
				merges = append(merges, r)
			}
		}
		if err := queueMerges(ctx, tx, merges); err != nil {
			return err
		}
		if len(again) == 0 {
			return nil
		}
		// Each comparison is a statement of its own, so it sees a row a
		// concurrent request committed while this one waited on its id.
		b = &pgx.Batch{}
		for _, i := range again {
			e := events[i]
			b.Queue(sameEventSQL, e.ID, e.Type, e.ContactID, eventProps(e), e.Email, eventTraits(e), e.Tags, e.AccountID)
		}
		br = tx.SendBatch(ctx, b)
		conflict := &EventConflictError{}
		for _, i := range again {
			var same bool
			if err := br.QueryRow().Scan(&same); err != nil {
				br.Close()
				return fmt.Errorf("error comparing event %q with the stored one: %w", events[i].ID, err)
			}
			if same {
				res.Outcomes[i] = EventDuplicate
				res.Duplicates++
				continue
			}
			res.Outcomes[i] = EventConflict
			res.Conflicts++
			conflict.Indexes = append(conflict.Indexes, i)
			conflict.IDs = append(conflict.IDs, events[i].ID)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("error comparing events: %w", err)
		}
		if policy == ConflictRefuse && len(conflict.IDs) > 0 {
			return conflict
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for p := 0; p < Partitions; p++ {
		if parts[p] {
			res.Partitions = append(res.Partitions, p)
		}
	}
	return res, nil
}

// InsertEvents appends events to the log in one transaction, skipping ids
// already there (duplicates and conflicts alike; AppendEvents tells them
// apart). It returns how many were new and the partitions they fall in.
func (s *Store) InsertEvents(ctx context.Context, events []EventRow) (int, []int, error) {
	res, err := s.AppendEvents(ctx, events, ConflictSkip)
	if err != nil {
		return 0, nil, err
	}
	return res.Inserted, res.Partitions, nil
}

func eventProps(e EventRow) map[string]any {
	if e.Properties == nil {
		return map[string]any{}
	}
	return e.Properties
}

func eventTraits(e EventRow) any {
	if e.Traits == nil {
		return nil
	}
	return e.Traits
}

// PendingEvents locks and returns up to limit events of a partition not yet
// applied nor quarantined, in arrival order. An event whose properties or
// traits cannot be decoded comes back with DecodeErr set rather than failing
// the whole read.
func PendingEvents(ctx context.Context, tx pgx.Tx, partition, limit int) ([]EventRow, error) {
	rows, err := tx.Query(ctx, `SELECT seq, id, contact_id, partition, type, properties::text, email, traits::text, tags, account_id, occurred_at, received_at
		FROM events WHERE partition = $1 AND applied_at IS NULL AND quarantined_at IS NULL ORDER BY seq LIMIT $2 FOR UPDATE`, partition, limit)
	if err != nil {
		return nil, fmt.Errorf("error loading pending events: %w", err)
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var e EventRow
		var props string
		var traits *string
		if err := rows.Scan(&e.Seq, &e.ID, &e.ContactID, &e.Partition, &e.Type, &props, &e.Email, &traits,
			&e.Tags, &e.AccountID, &e.OccurredAt, &e.ReceivedAt); err != nil {
			return nil, fmt.Errorf("error reading pending event: %w", err)
		}
		e.DecodeErr = decodeObject(props, "properties", &e.Properties)
		if e.DecodeErr == nil && traits != nil {
			e.DecodeErr = decodeObject(*traits, "traits", &e.Traits)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// decodeObject decodes a stored JSON object, saying where a value does not
// fit (a number beyond float64, say) without repeating the value whole.
func decodeObject(raw, what string, out *map[string]any) error {
	err := json.Unmarshal([]byte(raw), out)
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && (typeErr.Value == "number" || strings.HasPrefix(typeErr.Value, "number ")) {
		path := what
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			if p, ok := hugeNumber(v, what); ok {
				path = p
			}
		}
		return fmt.Errorf("%s: a number beyond the range leadflow computes with (float64, about ±1.8e308)", path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// hugeNumber finds the path of the first number beyond float64 in v.
func hugeNumber(v any, path string) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		_, err := strconv.ParseFloat(string(x), 64)
		return path, err != nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := hugeNumber(x[k], path+"."+k); ok {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, ok := hugeNumber(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	}
	return "", false
}

// DueContacts returns up to limit contacts of a partition whose next
// time-driven change is due at now. Tombstones of erased contacts never are.
func DueContacts(ctx context.Context, tx pgx.Tx, partition int, now time.Time, limit int) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM contacts WHERE partition = $1 AND next_due_at <= $2 AND erased_at IS NULL
		ORDER BY next_due_at LIMIT $3`,
		partition, now, limit)
	if err != nil {
		return nil, fmt.Errorf("error loading due contacts: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// NextDue returns the earliest time-driven change in a partition: a
// contact's next due time, or at once while a re-evaluation walks the
// partition (MarkReevaluationDue).
func (s *Store) NextDue(ctx context.Context, partition int) (*time.Time, error) {
	var t *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT least(
			(SELECT min(next_due_at) FROM contacts WHERE partition = $1),
			(SELECT min(started_at) FROM reevaluations WHERE partition = $1 AND finished_at IS NULL))`, partition).Scan(&t)
	if err != nil {
		return nil, fmt.Errorf("error reading next due time: %w", err)
	}
	return t, nil
}

// PendingCount returns how many events wait to be applied (quarantined
// events do not: they wait for a person).
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE applied_at IS NULL AND quarantined_at IS NULL`).Scan(&n)
	return n, err
}
