package flows

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	// The time zone database is embedded so that contact time zones resolve
	// the same on every machine, with or without a system tz database.
	_ "time/tzdata"
)

// WaitUntil returns when a wait_until step ends for the contact:
//
//   - with Field: the contact's date field (an RFC 3339 date-time, or a
//     YYYY-MM-DD date taken as midnight in the contact's time zone) plus
//     Offset; a time already past returns now;
//   - with TimeOfDay ("HH:MM"): the next occurrence of that wall-clock
//     time strictly after now in the contact's time zone (ct.Fields
//     "timezone", an IANA name; UTC when missing or unknown).
//
// It fails for another step type, or a missing or unreadable date field.
// Times are returned in UTC.
func WaitUntil(s *Step, ct *Contact, now time.Time) (time.Time, error) {
	if s == nil || s.Type != StepWaitUntil {
		return time.Time{}, fmt.Errorf("WaitUntil needs a wait_until step")
	}
	if ct == nil {
		ct = &Contact{}
	}
	loc := ContactLocation(ct)
	if s.Field != "" {
		t, err := contactDate(ct, s.Field, loc)
		if err != nil {
			return time.Time{}, err
		}
		t = t.Add(s.Offset.Duration)
		if t.Before(now) {
			t = now
		}
		return t.UTC(), nil
	}
	hh, mm, ok := parseTimeOfDay(s.TimeOfDay)
	if !ok {
		return time.Time{}, fmt.Errorf("time_of_day %q is not HH:MM", s.TimeOfDay)
	}
	local := now.In(loc)
	for day := 0; day < 4; day++ {
		t := time.Date(local.Year(), local.Month(), local.Day()+day, hh, mm, 0, 0, loc)
		if t.After(now) {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("no time %s after %s", s.TimeOfDay, now) // unreachable
}

// DateTriggerDue returns when a date_field trigger fires for the contact:
// its date field (as in WaitUntil) plus the trigger's offset. False for
// another trigger type or a missing or unreadable field.
func DateTriggerDue(t *Trigger, ct *Contact) (time.Time, bool) {
	if t == nil || t.Type != TriggerDateField || ct == nil {
		return time.Time{}, false
	}
	d, err := contactDate(ct, t.Field, ContactLocation(ct))
	if err != nil {
		return time.Time{}, false
	}
	return d.Add(t.Offset.Duration).UTC(), true
}

// ContactLocation returns the contact's time zone from its "timezone"
// field (an IANA name such as "Europe/Rome"), or UTC when it is missing or
// unknown.
func ContactLocation(ct *Contact) *time.Location {
	if ct == nil {
		return time.UTC
	}
	name, _ := ct.Fields["timezone"].(string)
	if name == "" {
		return time.UTC
	}
	return loadLocation(name)
}

// locations caches time zones by name (time.LoadLocation reads the tz
// database on every call); unknown names are cached as UTC.
var locations struct {
	sync.Mutex
	byName map[string]*time.Location
}

func loadLocation(name string) *time.Location {
	locations.Lock()
	defer locations.Unlock()
	if loc, ok := locations.byName[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	if locations.byName == nil {
		locations.byName = map[string]*time.Location{}
	}
	if len(locations.byName) < 1000 {
		locations.byName[name] = loc
	}
	return loc
}

func contactDate(ct *Contact, field string, loc *time.Location) (time.Time, error) {
	v, ok := lookupPath(ct.Fields, field)
	if !ok || v == nil {
		return time.Time{}, fmt.Errorf("contact %s has no field %q", ct.ID, field)
	}
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, x, loc); err == nil {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("field %q of contact %s is %q, not a date (RFC 3339 or YYYY-MM-DD)", field, ct.ID, x)
	}
	return time.Time{}, fmt.Errorf("field %q of contact %s is not a date string", field, ct.ID)
}

func parseTimeOfDay(s string) (int, int, bool) {
	if !timeOfDayPattern.MatchString(s) {
		return 0, 0, false
	}
	hh, _ := strconv.Atoi(s[:2])
	mm, _ := strconv.Atoi(s[3:])
	return hh, mm, true
}
