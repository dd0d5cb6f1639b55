package flows

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Every event type the engine raises is reserved; client event types are not.
func TestDerivedEventTypes(t *testing.T) {
	for _, typ := range []string{"contact_created", "field_changed", "tag_added", "tag_removed", "segment_entered",
		"segment_exited", "score_threshold_crossed", "date_field", "score_changed"} {
		require.True(t, IsDerivedEventType(typ), typ)
	}
	for _, typ := range []string{TriggerEmailOpened, TriggerPageVisited, TriggerFormSubmitted, "identify", "group", "alias", "trial_started", ""} {
		require.False(t, IsDerivedEventType(typ), typ)
	}
	list := DerivedEventTypes()
	list[0] = "changed"
	require.True(t, IsDerivedEventType("contact_created"), "the list is a copy")
}
