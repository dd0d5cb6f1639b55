package engine

import (
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// conversion records the contact's conversion in every model whose
// conversion event ev is, with the score and band it has once ev is applied.
// Only events from the log (n == 0) convert; the first conversion is kept.
func (a *applier) conversion(ev flows.Event, n int) {
	for _, mv := range a.cat.Models {
		c := flows.ConversionOf(mv.Model)
		if n != 0 || ev.Type != c.Event {
			continue
		}
		row := store.ConversionRow{ContactID: a.st.Contact.ID, Model: mv.Model.ID, EventID: ev.ID, EventType: ev.Type,
			Value: flows.ConversionValue(c, ev.Properties), OccurredAt: ev.At, At: a.now}
		if s := a.st.Scores[mv.Model.ID]; s != nil {
			row.Score, row.Band = s.Score, s.Band
		} else if b, ok := flows.BandFor(mv.Model, 0); ok {
			row.Band = b.Name
		}
		a.ch.Convert(row)
	}
}
