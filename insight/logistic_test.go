package insight

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// knownWeights generates n contacts whose conversion follows a logistic
// model with known weights: pricing visits (Poisson 2), a demo request
// (30%), a big company (40%) and blog visits (Poisson 3) that do nothing.
func knownWeights(n int, seed uint64) (x [][]float64, y []bool, ids []string) {
	rng := rand.New(rand.NewPCG(seed, 1))
	w := []float64{0.6, 1.8, 1.2, 0}
	for i := 0; i < n; i++ {
		row := []float64{poisson(rng, 2), bern(rng, 0.3), bern(rng, 0.4), poisson(rng, 3)}
		p := sigmoid(-3 + dot(w, row))
		x, y, ids = append(x, row), append(y, rng.Float64() < p), append(ids, fmt.Sprintf("c%05d", i))
	}
	return x, y, ids
}

func poisson(rng *rand.Rand, mean float64) float64 {
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func bern(rng *rand.Rand, p float64) float64 {
	if rng.Float64() < p {
		return 1
	}
	return 0
}

// TestFitLogisticRecoversKnownWeights: on 6,000 generated contacts the fit
// on the training part recovers every weight within ±0.25 log-odds (the
// stated tolerance; standard errors here are ~0.05–0.1), the rule with no
// effect has |z| < 1.96, and on the held-out part the fitted ranking beats
// a random one by a wide margin.
func TestFitLogisticRecoversKnownWeights(t *testing.T) {
	t.Parallel()
	x, y, ids := knownWeights(6000, 7)
	var trX, teX [][]float64
	var trY, teY []bool
	for i := range x {
		if heldOut(ids[i]) {
			teX, teY = append(teX, x[i]), append(teY, y[i])
		} else {
			trX, trY = append(trX, x[i]), append(trY, y[i])
		}
	}
	fit, err := FitLogistic(trX, trY)
	require.NoError(t, err)
	want := []float64{0.6, 1.8, 1.2, 0}
	for j, w := range want {
		require.InDelta(t, w, fit.Weights[j], 0.25, "weight %d: got %v", j, fit.Weights)
	}
	require.InDelta(t, -3, fit.Intercept, 0.35)
	require.Less(t, math.Abs(fit.Z[3]), 1.96, "blog visits do nothing")
	for j := 0; j < 3; j++ {
		require.Greater(t, fit.Z[j], 5.0, "weight %d is clear", j)
	}
	pred := make([]float64, len(teX))
	random := make([]float64, len(teX))
	rng := rand.New(rand.NewPCG(99, 2))
	for i, row := range teX {
		pred[i], random[i] = fit.Predict(row), rng.Float64()
	}
	aucFit, ok := AUC(pred, teY)
	require.True(t, ok)
	aucRandom, _ := AUC(random, teY)
	require.Greater(t, aucFit, 0.8)
	require.InDelta(t, 0.5, aucRandom, 0.06)
	require.Greater(t, aucFit-aucRandom, 0.2)
}

// TestFitLogisticSeparatedStaysFinite: a feature that separates the
// classes perfectly gets a large but finite weight (the penalty), not NaN.
func TestFitLogisticSeparatedStaysFinite(t *testing.T) {
	t.Parallel()
	var x [][]float64
	var y []bool
	for i := 0; i < 100; i++ {
		x = append(x, []float64{float64(i % 2), 3}) // second feature constant
		y = append(y, i%2 == 1)
	}
	fit, err := FitLogistic(x, y)
	require.NoError(t, err)
	require.False(t, math.IsNaN(fit.Weights[0]) || math.IsInf(fit.Weights[0], 0))
	require.Greater(t, fit.Weights[0], 2.0)
	require.Equal(t, 0.0, fit.Weights[1], "a constant feature gets no weight")
	require.Equal(t, 0.0, fit.Z[1])
}
