package insight

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAUC checks the Mann–Whitney AUC against pair counts done by hand.
func TestAUC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		scores []float64
		pos    []bool
		want   float64
	}{
		// positives 0.35, 0.8 against negatives 0.1, 0.4: 0.35 beats 0.1;
		// 0.8 beats both → 3 of 4 pairs.
		{"no ties", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		// positives 1, 3 against negatives 1, 2: 1~1 half, 1<2 none, 3
		// beats both → 2.5 of 4.
		{"ties count half", []float64{1, 1, 2, 3}, []bool{true, false, false, true}, 0.625},
		{"perfect", []float64{1, 2, 3, 4}, []bool{false, false, true, true}, 1},
		{"reversed", []float64{4, 3, 2, 1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{7, 7, 7}, []bool{true, false, false}, 0.5},
	} {
		got, ok := AUC(tc.scores, tc.pos)
		require.True(t, ok, tc.name)
		require.InDelta(t, tc.want, got, 1e-12, tc.name)
	}
	_, ok := AUC([]float64{1, 2}, []bool{true, true})
	require.False(t, ok, "no negatives")
}
