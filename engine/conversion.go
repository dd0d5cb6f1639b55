package engine

import (
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// conversion records the contact's conversion in every model that ev
// converts in (flows.Conversion.Converts; n > 0: ev was derived), with the
// score and band it has once ev is applied. The store keeps the first.
func (a *applier) conversion(ev flows.Event, n int) {
	for _, mv := range a.cat.Models {
		c := flows.ConversionOf(mv.Model)
		if !c.Converts(ev, n != 0) {
			continue
		}
		row := store.ConversionRow{ContactID: a.st.Contact.ID, Model: mv.Model.ID, EventID: ev.ID, EventType: ev.Type,
			Value: c.Value(ev), OccurredAt: ev.At, At: a.now}
		if s := a.st.Scores[mv.Model.ID]; s != nil {
			row.Score, row.Band = s.Score, s.Band
		} else if b, ok := flows.BandFor(mv.Model, 0); ok {
			row.Band = b.Name
		}
		a.ch.Convert(row)
	}
}
