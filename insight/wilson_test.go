package insight

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWilson checks the interval against values worked out by hand from
// (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n), z = 1.95996.
func TestWilson(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k, n      int
		low, high float64
	}{
		{0, 10, 0, 0.277533},
		{5, 10, 0.236593, 0.763407},
		{1, 3, 0.061492, 0.792340},
		{10, 10, 0.722467, 1},
		{81, 263, 0.255289, 0.366210},
	} {
		got, ok := Wilson(tc.k, tc.n)
		require.True(t, ok)
		require.InDelta(t, tc.low, got.Low, 1e-6, "%d/%d", tc.k, tc.n)
		require.InDelta(t, tc.high, got.High, 1e-6, "%d/%d", tc.k, tc.n)
	}
	_, ok := Wilson(0, 0)
	require.False(t, ok, "no interval without contacts")
	_, ok = Wilson(3, 2)
	require.False(t, ok, "more successes than trials")
}
