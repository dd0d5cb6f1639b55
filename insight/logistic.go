package insight

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// Logistic is a fitted logistic regression: P(y) = σ(Intercept + Σ Weights·x).
type Logistic struct {
	Intercept float64
	// Weights are per unit of each feature (log-odds per hit); 0 for a
	// feature that never varies.
	Weights []float64
	// Z are the Wald statistics of the weights (weight / standard error,
	// from the inverse Hessian of the penalised loss); 0 for a constant
	// feature.
	Z []float64
}

// FitLogistic fits an L2-regularised logistic regression of y on x
// (rows are observations). Features are standardised first, and the
// penalty is a standard normal prior on each standardised weight (the
// intercept is not penalised): it keeps the fit finite when a feature
// separates the classes and shrinks weights little once there are
// hundreds of observations. The minimum is found with L-BFGS (gonum).
func FitLogistic(x [][]float64, y []bool) (Logistic, error) {
	n := len(x)
	if n == 0 || n != len(y) {
		return Logistic{}, errors.New("fitting a logistic regression: no observations, or features and outcomes of different lengths")
	}
	p := len(x[0])
	mean, sd := make([]float64, p), make([]float64, p)
	for j := 0; j < p; j++ {
		for i := 0; i < n; i++ {
			mean[j] += x[i][j]
		}
		mean[j] /= float64(n)
		for i := 0; i < n; i++ {
			d := x[i][j] - mean[j]
			sd[j] += d * d
		}
		sd[j] = math.Sqrt(sd[j] / float64(n))
	}
	// z-scored design with an intercept column first; constant columns stay 0.
	xs := make([][]float64, n)
	for i := range x {
		row := make([]float64, p+1)
		row[0] = 1
		for j := 0; j < p; j++ {
			if sd[j] > 0 {
				row[j+1] = (x[i][j] - mean[j]) / sd[j]
			}
		}
		xs[i] = row
	}
	// The loss is the mean negative log-likelihood plus the prior, so
	// that the gradient's scale does not grow with n.
	nf := float64(n)
	lambda := 1.0 // prior precision against the summed log-likelihood
	loss := func(w []float64) float64 {
		l := 0.0
		for i, row := range xs {
			eta := dot(row, w)
			// log(1 + e^η) − yη, computed without overflow
			l += softplus(eta)
			if y[i] {
				l -= eta
			}
		}
		for j := 1; j <= p; j++ {
			l += lambda * w[j] * w[j] / 2
		}
		return l / nf
	}
	grad := func(g, w []float64) {
		for k := range g {
			g[k] = 0
		}
		for i, row := range xs {
			r := sigmoid(dot(row, w))
			if y[i] {
				r--
			}
			for k, v := range row {
				g[k] += r * v
			}
		}
		for j := 1; j <= p; j++ {
			g[j] += lambda * w[j]
		}
		for k := range g {
			g[k] /= nf
		}
	}
	res, err := optimize.Minimize(optimize.Problem{Func: loss, Grad: grad}, make([]float64, p+1),
		&optimize.Settings{GradientThreshold: 1e-9, MajorIterations: 1000}, &optimize.LBFGS{})
	// The line search may give up within rounding of the minimum; a
	// gradient that small is the minimum all the same.
	if err != nil && (res == nil || maxAbs(res.Gradient) > 1e-6) {
		return Logistic{}, fmt.Errorf("fitting a logistic regression: %w", err)
	}
	w := res.X
	// Hessian of the penalised loss at the minimum: Xᵀ diag(p(1−p)) X + λ.
	h := mat.NewSymDense(p+1, nil)
	for _, row := range xs {
		q := sigmoid(dot(row, w))
		v := q * (1 - q)
		for a := 0; a <= p; a++ {
			for b := a; b <= p; b++ {
				h.SetSym(a, b, h.At(a, b)+v*row[a]*row[b])
			}
		}
	}
	for j := 0; j <= p; j++ {
		extra := lambda
		if j == 0 || sd[j-1] == 0 {
			extra = 1e-9 // keeps constant columns from making H singular
			if j > 0 {
				extra = 1
			}
		}
		h.SetSym(j, j, h.At(j, j)+extra)
	}
	var chol mat.Cholesky
	cov := mat.NewSymDense(p+1, nil)
	if !chol.Factorize(h) {
		return Logistic{}, errors.New("fitting a logistic regression: the Hessian is not positive definite")
	}
	if err := chol.InverseTo(cov); err != nil {
		return Logistic{}, fmt.Errorf("fitting a logistic regression: inverting the Hessian: %w", err)
	}
	out := Logistic{Intercept: w[0], Weights: make([]float64, p), Z: make([]float64, p)}
	for j := 0; j < p; j++ {
		if sd[j] == 0 {
			continue
		}
		out.Weights[j] = w[j+1] / sd[j]
		out.Intercept -= out.Weights[j] * mean[j]
		out.Z[j] = w[j+1] / math.Sqrt(cov.At(j+1, j+1))
	}
	return out, nil
}

// Predict returns the log-odds of x.
func (l Logistic) Predict(x []float64) float64 { return l.Intercept + dot(l.Weights, x) }

func maxAbs(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func sigmoid(t float64) float64 {
	if t >= 0 {
		return 1 / (1 + math.Exp(-t))
	}
	e := math.Exp(t)
	return e / (1 + e)
}

func softplus(t float64) float64 {
	if t > 0 {
		return t + math.Log1p(math.Exp(-t))
	}
	return math.Log1p(math.Exp(t))
}
