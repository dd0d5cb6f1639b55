package bench

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store/storetest"
)

// TestHotContact runs the hot-contact scenario small: the hot contact is in
// the filtered segment, and one of its events costs about what one of the
// quiet contact's does.
func TestHotContact(t *testing.T) {
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("LEADFLOW_HOT_EVENTS")); err == nil {
		n = v
	}
	s := storetest.NewStore(t)
	res, err := MeasureHot(context.Background(), s, HotConfig{HotEvents: n, QuietEvents: 100, Samples: 20, Log: os.Stderr})
	require.NoError(t, err)
	res.Print(os.Stderr)
	require.True(t, res.HotSegment, "the hot contact is in the 3-pricing-visits segment")
	require.Less(t, res.Hot.P50, 5*res.Quiet.P50+5, "one event of the hot contact costs about what one of the quiet contact costs")
}
