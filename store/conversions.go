package store

import (
	"time"

	"github.com/jackc/pgx/v5"
)

// ConversionRow is the first conversion of a contact in a score model.
type ConversionRow struct {
	ContactID  string
	Model      string
	EventID    string
	EventType  string
	Value      *float64
	OccurredAt time.Time
	At         time.Time // applied: the ledger's clock
	Score      float64
	Band       string
	// LedgerThrough is the id of the contact's last ledger row in the model
	// when it converted (nil: none yet); set when written.
	LedgerThrough *int64
	// ledgerPending is how many of the transaction's pending ledger rows of
	// the contact and model came before the conversion (see Changes.Convert).
	ledgerPending int
}

// Convert records a conversion decided in this transaction. The ledger rows
// of the contact and model already pending in c are part of the score it
// converted with; later ones are not.
func (c *Changes) Convert(row ConversionRow) {
	for _, l := range c.Ledger {
		if l.ContactID == row.ContactID && l.Model == row.Model {
			row.ledgerPending++
		}
	}
	c.Conversions = append(c.Conversions, row)
}

// queueConversions inserts conversions after the ledger rows: ledger_through
// is the row that was last when the contact converted, counted back from the
// end past the pending rows written after it. A contact's first conversion
// in a model is kept; later ones change nothing.
func (c *Changes) queueConversions(b *pgx.Batch) {
	for _, cv := range c.Conversions {
		after := 0
		for _, l := range c.Ledger {
			if l.ContactID == cv.ContactID && l.Model == cv.Model {
				after++
			}
		}
		after -= cv.ledgerPending
		b.Queue(`INSERT INTO conversions (contact_id, model, event_id, event_type, value, occurred_at, at, score, band, ledger_through)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
				(SELECT id FROM score_ledger WHERE contact_id = $1 AND model = $2 ORDER BY id DESC OFFSET $10 LIMIT 1))
			ON CONFLICT (contact_id, model) DO NOTHING`,
			cv.ContactID, cv.Model, cv.EventID, cv.EventType, cv.Value, cv.OccurredAt, cv.At, cv.Score, cv.Band, after)
	}
}

const conversionColumns = `contact_id, model, event_id, event_type, value::float8, occurred_at, at, score::float8, band, ledger_through`

func scanConversion(r pgx.CollectableRow) (ConversionRow, error) {
	var cv ConversionRow
	err := r.Scan(&cv.ContactID, &cv.Model, &cv.EventID, &cv.EventType, &cv.Value, &cv.OccurredAt, &cv.At, &cv.Score, &cv.Band, &cv.LedgerThrough)
	return cv, err
}
