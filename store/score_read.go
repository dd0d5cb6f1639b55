package store

// Scores as read. The engine materialises half-life decay only when a
// contact changes or its score reaches a mark (a band, a threshold, a
// re-arm mark), so the scores row holds the engagement points as of
// engagement_as_of. Every read computes the score as it stands at the
// read's time, in SQL, so that the hot list filters and orders by the
// value it shows:
//
//	score = profile + RoundPoints(engagement · 2^(−(now − engagement_as_of) / half_life))
//
// computed in float8 exactly as flows.DecayedEngagement computes it in Go
// (elapsed and half-life in nanoseconds, then the shortest decimal text of
// the product rounded to 2 decimals, half away from zero), so the read
// shows what the engine would materialise at that time.

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// ScoreClock is when scores are read and how each model decays.
type ScoreClock struct {
	// Now is the time the scores are read at.
	Now time.Time
	// HalfLives holds the half-life of each model with half-life decay; a
	// model not in it is read as stored.
	HalfLives map[string]time.Duration
}

// at is the read time at PostgreSQL's precision (microseconds), so that
// the same time computed in Go gives the same score.
func (c ScoreClock) at() time.Time { return c.Now.Truncate(time.Microsecond) }

// halfLife is the model's half-life in nanoseconds as float8 (0: none).
func (c ScoreClock) halfLife(model string) float64 {
	if d := c.HalfLives[model]; d > 0 {
		return float64(d)
	}
	return 0
}

// models lists the models with a half-life and their half-lives, for
// unnest($models::text[], $halfLives::float8[]).
func (c ScoreClock) models() ([]string, []float64) {
	ids := make([]string, 0, len(c.HalfLives))
	for id, d := range c.HalfLives {
		if d > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	hls := make([]float64, len(ids))
	for i, id := range ids {
		hls[i] = float64(c.HalfLives[id])
	}
	return ids, hls
}

// decayedScoreSQL is the SQL expression (numeric, 2 decimals) of the score
// of the scores row aliased s at the timestamptz expression now under the
// float8 expression halfLife (nanoseconds; 0 for no decay). Past 100
// half-lives the decayed engagement rounds to 0 whatever it was (scores
// stay within ±10⁹); the exponent is capped at 1000 half-lives so that
// float8 arithmetic never underflows (an error in PostgreSQL), which
// changes nothing: 0 either way.
func decayedScoreSQL(s, now, halfLife string) string {
	return fmt.Sprintf(`(CASE WHEN %[3]s > 0 AND %[1]s.engagement <> 0 AND %[2]s > %[1]s.engagement_as_of
		THEN %[1]s.profile + round((%[1]s.engagement::float8 * power(2::float8,
			-least((extract(epoch FROM %[2]s - %[1]s.engagement_as_of) * 1000000000)::float8 / %[3]s, 1000)))::text::numeric, 2)
		ELSE %[1]s.score END)`, s, now, halfLife)
}

// numericText is a float as the decimal text PostgreSQL reads exactly
// (a float64 parameter would be converted digit for digit of its binary
// value: 0.1 is not 0.1).
func numericText(f *float64) *string {
	if f == nil {
		return nil
	}
	s := strconv.FormatFloat(*f, 'f', -1, 64)
	return &s
}
