package store

// The list of contacts (GET /v1/contacts, JSON pages and CSV export):
// keyset pages in contact id order, with filters.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ContactsPageQuery selects one page of contacts.
type ContactsPageQuery struct {
	Stage     string // only this stage when not empty
	AccountID string // only contacts of this account when not empty
	Tag       string // only contacts with this tag when not empty
	Segment   string // only members of this segment when not empty
	// Search, when not empty, keeps contacts whose id is Search or whose
	// email starts with it (case-insensitive).
	Search string
	// Disqualified filters on the flag when not nil.
	Disqualified *bool
	// After continues after this contact id (the last of the previous page).
	After string
	Limit int
	// Now is the time the score is read at and HalfLife the half-life of
	// the model "main" (0: no half-life decay).
	Now      time.Time
	HalfLife time.Duration
}

// ContactListRow is one contact of a page, with its score in the model
// "main" at the read's time (nil without one) and the band the engine last
// stored.
type ContactListRow struct {
	ContactRow
	Score *float64
	Band  string
}

// contactsPageSQL selects the page first and joins the scores of its rows
// only, so a page costs its rows whatever the filters leave after it.
var contactsPageSQL = `SELECT c.id, c.email, c.fields, c.tags, c.account_id, c.stage, c.disqualified,
		c.disqualified_reason, c.created_at, c.updated_at, ` + decayedScoreSQL("s", "$9::timestamptz", "$10::float8") + `::float8, coalesce(s.band, '')
	FROM (SELECT id, email, fields, tags, coalesce(account_id, '') AS account_id, stage, disqualified,
			disqualified_reason, created_at, updated_at
		FROM contacts c
		WHERE c.erased_at IS NULL AND ($1 = '' OR c.stage = $1)
		  AND ($2 = '' OR c.account_id = $2)
		  AND ($3 = '' OR $3 = ANY (c.tags))
		  AND ($4 = '' OR EXISTS (SELECT 1 FROM segment_memberships m WHERE m.contact_id = c.id AND m.segment_id = $4))
		  AND ($5 = '' OR c.id = $5 OR lower(c.email) LIKE replace(replace(replace(lower($5), '\', '\\'), '%', '\%'), '_', '\_') || '%')
		  AND ($6::boolean IS NULL OR c.disqualified = $6)
		  AND c.id > $7
		ORDER BY c.id
		LIMIT $8) c
	LEFT JOIN scores s ON s.contact_id = c.id AND s.model = 'main'
	ORDER BY c.id`

// ContactsPage returns one page of contacts in id order. Pages are keyset
// paginated on the primary key, so the last page costs what the first does.
func (s *Store) ContactsPage(ctx context.Context, q ContactsPageQuery) ([]ContactListRow, error) {
	rows, err := s.Pool.Query(ctx, contactsPageSQL, q.Stage, q.AccountID, q.Tag, q.Segment, q.Search, q.Disqualified, q.After, q.Limit,
		ScoreClock{Now: q.Now}.at(), float64(max(q.HalfLife, 0)))
	if err != nil {
		return nil, fmt.Errorf("error listing contacts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ContactListRow, error) {
		var c ContactListRow
		err := r.Scan(&c.ID, &c.Email, &c.Fields, &c.Tags, &c.AccountID, &c.Stage, &c.Disqualified,
			&c.DisqualifiedReason, &c.CreatedAt, &c.UpdatedAt, &c.Score, &c.Band)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("error listing contacts: %w", err)
	}
	return out, nil
}
