package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LedgerPoint is one ledger row as the conversion report replays it.
type LedgerPoint struct {
	ID      int64
	At      time.Time
	Points  float64
	Kind    string
	RuleID  string
	EventID string
}

// ConversionHistory is one contact's history in a score model: when it was
// created, its score now, its conversion (nil when none) and its ledger rows
// of the model in order.
type ConversionHistory struct {
	ContactID  string
	CreatedAt  time.Time
	Score      float64
	Band       string
	Conversion *ConversionRow
	Ledger     []LedgerPoint
}

// ConversionHistories loads the history in model of every contact created
// in [since, until], in contact id order: two reads, the contacts with their
// score and conversion, then the model's ledger rows of those contacts.
func (s *Store) ConversionHistories(ctx context.Context, model string, since, until time.Time) ([]ConversionHistory, error) {
	rows, err := s.Pool.Query(ctx, `SELECT c.id, c.created_at, coalesce(sc.score, 0)::float8, coalesce(sc.band, ''),
			cv.event_id, cv.event_type, cv.value::float8, cv.occurred_at, cv.at, cv.score::float8, cv.band, cv.ledger_through
		FROM contacts c
		LEFT JOIN scores sc ON sc.contact_id = c.id AND sc.model = $1
		LEFT JOIN conversions cv ON cv.contact_id = c.id AND cv.model = $1
		WHERE c.created_at >= $2 AND c.created_at <= $3
		ORDER BY c.id`, model, since, until)
	if err != nil {
		return nil, fmt.Errorf("error loading contacts for the conversion history of model %q: %w", model, err)
	}
	var out []ConversionHistory
	index := map[string]int{}
	for rows.Next() {
		var h ConversionHistory
		var eventID, eventType, band *string
		var occurred, at *time.Time
		var score *float64
		cv := ConversionRow{Model: model}
		if err := rows.Scan(&h.ContactID, &h.CreatedAt, &h.Score, &h.Band, &eventID, &eventType, &cv.Value, &occurred, &at, &score, &band, &cv.LedgerThrough); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error reading the conversion history of model %q: %w", model, err)
		}
		if eventID != nil {
			cv.ContactID, cv.EventID, cv.EventType, cv.OccurredAt, cv.At, cv.Score, cv.Band = h.ContactID, *eventID, *eventType, *occurred, *at, *score, *band
			h.Conversion = &cv
		}
		index[h.ContactID] = len(out)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error reading the conversion history of model %q: %w", model, err)
	}
	lrows, err := s.Pool.Query(ctx, `SELECT l.contact_id, l.id, l.at, l.points::float8, l.kind, l.rule_id, l.event_id
		FROM score_ledger l JOIN contacts c ON c.id = l.contact_id
		WHERE l.model = $1 AND c.created_at >= $2 AND c.created_at <= $3
		ORDER BY l.contact_id, l.id`, model, since, until)
	if err != nil {
		return nil, fmt.Errorf("error loading the ledger of model %q: %w", model, err)
	}
	var contactID string
	var p LedgerPoint
	_, err = pgx.ForEachRow(lrows, []any{&contactID, &p.ID, &p.At, &p.Points, &p.Kind, &p.RuleID, &p.EventID}, func() error {
		if i, ok := index[contactID]; ok {
			out[i].Ledger = append(out[i].Ledger, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error reading the ledger of model %q: %w", model, err)
	}
	return out, nil
}

// HasContacts says whether the database holds any contact.
func (s *Store) HasContacts(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contacts)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("error checking for contacts: %w", err)
	}
	return ok, nil
}
