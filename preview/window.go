package preview

import (
	"fmt"
	"time"

	"github.com/leadflow/leadflow/flows"
)

// DefaultSince is the window a preview looks back over when none is given.
const DefaultSince = "90d"

// ParseSince reads the start of a preview's window: a duration back from
// now ("90d", "12w", "36h") or an RFC 3339 time before now.
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		s = DefaultSince
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.Before(now) {
			return time.Time{}, fmt.Errorf("%q is not in the past", s)
		}
		return t, nil
	}
	d, err := flows.ParseDuration(s)
	if err != nil || d.Duration <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither a duration back from now (\"90d\", \"12w\", \"36h\") nor an RFC 3339 time", s)
	}
	return now.Add(-d.Duration), nil
}
