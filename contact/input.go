package contact

import (
	"time"

	"github.com/leadflow/leadflow/contract"
)

// Input is one thing that happens to a contact: an Event of the log, its
// Due time-driven changes, or a Resume of one of its runs.
type Input interface{ isInput() }

// Event is an event of the log, with the contact changes it carries.
type Event struct {
	ID         string
	Type       string
	OccurredAt time.Time
	Properties map[string]any
	// Contact changes carried by identify/contact/group events.
	Email     *string
	AccountID *string
	Traits    map[string]any
	Tags      []string
}

// Due applies the contact's time-driven changes that fell due: decay,
// expiry of engagement points, window conditions of segments and
// date_field triggers.
type Due struct{}

// Resume continues a waiting run after its wait ended: its timer fired
// (contract.OutcomeElapsed, contract.OutcomeTimeout) or the awaited event
// arrived (contract.OutcomeEvent, EventID). WaitSeq must be the run's current wait; a stale
// or repeated resumption changes nothing.
type Resume struct {
	RunID   string
	WaitSeq int
	Outcome contract.Outcome
	EventID string
}

func (Event) isInput()  {}
func (Due) isInput()    {}
func (Resume) isInput() {}
