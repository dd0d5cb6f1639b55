package flows

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Day and Week are the units "d" (24h) and "w" (7d) of a Duration.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// durationUnits in the order Duration.String tries them (largest first).
var durationUnits = []struct {
	unit byte
	size time.Duration
}{
	{'w', Week}, {'d', Day}, {'h', time.Hour}, {'m', time.Minute}, {'s', time.Second},
}

const durationHelp = `write an integer and one unit s, m, h, d or w (e.g. "60d")`

// ParseDuration parses the JSON duration syntax: an optional '-', an integer
// and one unit: s, m, h, d (24h) or w (7d). Validation rejects negative
// durations except in offset fields.
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return Duration{}, fmt.Errorf("empty duration; %s", durationHelp)
	}
	rest := s
	neg := false
	if rest[0] == '-' {
		neg = true
		rest = rest[1:]
	}
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n == 0 {
		return Duration{}, fmt.Errorf("%q is not a duration; %s", s, durationHelp)
	}
	digits, unit := rest[:n], rest[n:]
	if unit == "" {
		return Duration{}, fmt.Errorf("%q has no unit; add one of s, m, h, d or w (e.g. %q)", s, s+"d")
	}
	if unit[0] == '.' || unit[0] == ',' {
		return Duration{}, fmt.Errorf("%q: use a whole number with one unit (e.g. \"90m\" instead of \"1.5h\")", s)
	}
	var size time.Duration
	for _, u := range durationUnits {
		if unit[0] == u.unit {
			size = u.size
		}
	}
	if size == 0 {
		return Duration{}, fmt.Errorf("%q: unknown unit %q; use s, m, h, d or w (e.g. \"60d\")", s, unit)
	}
	if len(unit) > 1 {
		return Duration{}, fmt.Errorf("%q: use a single unit (e.g. \"90m\" instead of \"1h30m\")", s)
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v > math.MaxInt64/int64(size) {
		return Duration{}, fmt.Errorf("%q is too long; the longest duration is %dw", s, math.MaxInt64/int64(Week))
	}
	d := time.Duration(v) * size
	if neg {
		d = -d
	}
	return Duration{d}, nil
}

// String returns the canonical form: the largest unit that divides the
// duration exactly ("2m" for 120s, "2w" for 14d); "0s" for zero. A
// duration that is not a whole number of seconds falls back to Go's format.
func (d Duration) String() string {
	s, err := d.canonical()
	if err != nil {
		return d.Duration.String()
	}
	return s
}

func (d Duration) canonical() (string, error) {
	v := d.Duration
	if v == 0 {
		return "0s", nil
	}
	if v%time.Second != 0 {
		return "", fmt.Errorf("duration %s is not a whole number of seconds", v)
	}
	for _, u := range durationUnits {
		if v%u.size == 0 {
			return strconv.FormatInt(int64(v/u.size), 10) + string(u.unit), nil
		}
	}
	return "", fmt.Errorf("duration %s has no unit", v) // unreachable: seconds divide
}

// IsZero reports whether d is zero; encoding/json's omitzero uses it.
func (d Duration) IsZero() bool { return d.Duration == 0 }

// MarshalJSON writes the canonical string form.
func (d Duration) MarshalJSON() ([]byte, error) {
	s, err := d.canonical()
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// UnmarshalJSON reads the string form ("60d").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string like \"60d\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes "once", "every_time" or {"once_per": "30d"}; a zero
// Entry is null.
func (e Entry) MarshalJSON() ([]byte, error) {
	switch e.Policy {
	case "":
		return []byte("null"), nil
	case EntryOnce, EntryEveryTime:
		return json.Marshal(e.Policy)
	case EntryOncePer:
		s, err := e.Period.canonical()
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]string{EntryOncePer: s})
	}
	return nil, fmt.Errorf("unknown entry policy %q", e.Policy)
}

const entryHelp = `use "once", "every_time" or {"once_per": "30d"}`

// UnmarshalJSON reads "once", "every_time" or {"once_per": "30d"}.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case EntryOnce, EntryEveryTime:
			*e = Entry{Policy: s}
			return nil
		}
		return fmt.Errorf("unknown entry %q; %s", s, entryHelp)
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(b, &o); err != nil || o == nil {
		return fmt.Errorf("entry: %s", entryHelp)
	}
	raw, ok := o[EntryOncePer]
	if !ok || len(o) != 1 {
		return fmt.Errorf("entry object takes exactly one field, \"once_per\"; %s", entryHelp)
	}
	var d Duration
	if err := d.UnmarshalJSON(raw); err != nil {
		return fmt.Errorf("entry.once_per: %w", err)
	}
	*e = Entry{Policy: EntryOncePer, Period: d}
	return nil
}
