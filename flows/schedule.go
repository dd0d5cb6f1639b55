package flows

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A schedule flow ({"trigger": {"type": "schedule", "cron": "0 9 * * 1-5",
// "timezone": "Europe/Rome"}}) is not per contact: each firing of its
// calendar schedule is one run, which executes its digest steps in order.
// Temporal Schedules fire it (the worker keeps one per published schedule
// flow, paused with the flow); the engine's per-contact rules never match
// its trigger.
//
// Validation here: the cron expression (five fields, read in the zone),
// the IANA zone, and the flow's shape (entry "every_time", digest steps
// only; digest steps only in schedule flows).

// MaxDigestTop is the most leads one digest step sends.
const MaxDigestTop = 1000

// cronField is one field of a cron expression.
type cronField struct {
	name     string
	min, max int
	names    []string // accepted names, index + nameBase is the value
	nameBase int
	example  string
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59, example: `"0" or "*/15"`},
	{name: "hour", min: 0, max: 23, example: `"9" or "8-18"`},
	{name: "day of month", min: 1, max: 31, example: `"1" or "1,15"`},
	{name: "month", min: 1, max: 12, nameBase: 1, example: `"*" or "jan-mar"`,
		names: []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}},
	// 7 is Sunday too, as in Temporal's and most crons' reading.
	{name: "day of week", min: 0, max: 7, example: `"1-5" (Monday to Friday) or "mon,wed"`,
		names: []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}},
}

const cronHelp = `write five fields "minute hour day-of-month month day-of-week" read in the schedule's time zone, e.g. "0 9 * * 1-5" for weekdays at 09:00`

// CheckCron reports what is wrong with a cron expression of a schedule
// trigger, or nil. Accepted: five fields; each a comma list of "*", a value
// or a range "a-b", each optionally stepped ("*/15", "1-5/2", "3/5");
// months and days of week also by name ("jan", "mon"). Day of month and
// day of week cannot both be restricted: Temporal requires both to match
// where classic cron takes either, so such an expression is refused
// rather than read one way or the other.
func CheckCron(expr string) error {
	fields := strings.Fields(expr)
	if len(fields) == 0 {
		return fmt.Errorf("is empty; %s", cronHelp)
	}
	if strings.HasPrefix(fields[0], "@") || strings.Contains(expr, "=") {
		return fmt.Errorf("%q is not a five-field cron expression; %s", expr, cronHelp)
	}
	if len(fields) != len(cronFields) {
		return fmt.Errorf("%q has %d fields, not 5; %s", expr, len(fields), cronHelp)
	}
	for i, f := range fields {
		if err := cronFields[i].check(f); err != nil {
			return fmt.Errorf("%q: %w", expr, err)
		}
	}
	if fields[2] != "*" && fields[4] != "*" {
		return fmt.Errorf("%q restricts both the day of month (%s) and the day of week (%s); keep one of them \"*\" (cron reads the pair as either-or, Temporal as both)", expr, fields[2], fields[4])
	}
	return nil
}

func (c cronField) check(s string) error {
	for _, part := range strings.Split(s, ",") {
		base, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 {
				return fmt.Errorf("the %s field %q has step %q; a step is a whole number of at least 1, e.g. %s", c.name, s, step, c.example)
			}
		}
		if base == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(base, "-")
		a, err := c.value(lo)
		if err != nil {
			return fmt.Errorf("the %s field %q: %w", c.name, s, err)
		}
		if isRange {
			b, err := c.value(hi)
			if err != nil {
				return fmt.Errorf("the %s field %q: %w", c.name, s, err)
			}
			if b < a {
				return fmt.Errorf("the %s field %q has range %q ending before it starts", c.name, s, base)
			}
		}
	}
	return nil
}

func (c cronField) value(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < c.min || n > c.max {
			return 0, fmt.Errorf("%d is out of range %d-%d (e.g. %s)", n, c.min, c.max, c.example)
		}
		return n, nil
	}
	if len(c.names) > 0 && len(s) >= 3 {
		low := strings.ToLower(s)
		for i, name := range c.names {
			if strings.HasPrefix(name, low) {
				return i + c.nameBase, nil
			}
		}
	}
	if s == "" {
		return 0, fmt.Errorf("a value is missing (e.g. %s)", c.example)
	}
	return 0, fmt.Errorf("%q is not a %s (e.g. %s)", s, c.name, c.example)
}

// CheckTimeZone reports whether name is an IANA time zone ("Europe/Rome",
// "UTC") this build knows; "Local" is refused (it would depend on the
// machine).
func CheckTimeZone(name string) error {
	if name == "" || name == "Local" {
		return fmt.Errorf("%q is not an IANA time zone; name one such as \"Europe/Rome\" or \"UTC\"", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("%q is not an IANA time zone; name one such as \"Europe/Rome\", \"America/New_York\" or \"UTC\"", name)
	}
	return nil
}

// IsScheduled reports whether the flow runs on a schedule rather than per
// contact.
func (f *Flow) IsScheduled() bool { return f != nil && f.Trigger.Type == TriggerSchedule }

// scheduleTrigger checks a schedule trigger's cron and zone; modelID is
// set when the trigger is an engagement rule's "on", which a schedule
// cannot be.
func (v *validation) scheduleTrigger(t *Trigger, p jpath, modelID string) {
	if modelID != "" {
		v.errf(p.f("type"), "a score model rule gives points for a contact's events; a schedule is no event of a contact: use it as a flow's trigger with a digest step")
		return
	}
	if t.Cron != "" {
		if err := CheckCron(t.Cron); err != nil {
			v.errf(p.f("cron"), "%s", err)
		}
	}
	if t.Timezone != "" {
		if err := CheckTimeZone(t.Timezone); err != nil {
			v.errf(p.f("timezone"), "%s", err)
		}
	}
}

// scheduleFlow checks the shape of a flow against its trigger: a schedule
// flow runs every time it fires and takes only digest steps; digest steps
// go only in schedule flows.
func (v *validation) scheduleFlow(f *Flow) {
	sp := jpath{{name: "steps"}}
	if !f.IsScheduled() {
		for i := range f.Steps {
			if f.Steps[i].Type == StepDigest {
				v.errf(sp.i(i).f("type"), `a digest step sends the hot list once per firing of a schedule; it goes only in a flow with a schedule trigger ({"type": "schedule", "cron": "0 9 * * 1-5", "timezone": "Europe/Rome"})`)
			}
		}
		return
	}
	if f.Entry.Policy != "" && f.Entry.Policy != EntryEveryTime {
		v.errf(jpath{{name: "entry"}}, `a schedule flow runs every time its schedule fires; write "entry": "every_time"`)
	}
	for i := range f.Steps {
		if t := f.Steps[i].Type; t != StepDigest && t != "" {
			v.errf(sp.i(i).f("type"), "%s %s step acts on one contact, and a schedule flow's run has none; a schedule flow takes only digest steps (a webhook goes in the digest's \"url\")", article(t), t)
		}
	}
}

// digest checks a digest step.
func (v *validation) digest(s *Step, p jpath) {
	v.refModel(s.Model, p.f("model"))
	if s.Segment != "" {
		v.refSegment(s.Segment, p.f("segment"))
	}
	if m := v.modelByID(s.Model); m != nil {
		for i, b := range s.Band {
			if !modelHasBand(m, b) {
				names := make([]string, len(m.Bands))
				for j := range m.Bands {
					names[j] = m.Bands[j].Name
				}
				v.errf(p.f("band").i(i), "score model %q has no band %q; its bands are %s", s.Model, b, strings.Join(names, ", "))
			}
		}
	}
	if s.Top < 0 || s.Top > MaxDigestTop {
		v.errf(p.f("top"), "must be between 1 and %d (the number of leads to send), e.g. \"top\": 20", MaxDigestTop)
	}
	if s.GroupByOwner && s.OwnerField == "" {
		v.errf(p.f("owner_field"), `is required with "group_by_owner": true; name the contact field that holds the owner, e.g. "owner_field": "owner"`)
	}
	if s.URL == "" && s.OwnerField == "" {
		v.errDeps(p, []jpath{p.f("url"), p.f("owner_field")}, `a digest step sends the hot list somewhere: give "url" (a webhook) and/or "owner_field" (one CRM task per owner), e.g. "owner_field": "owner"`)
	}
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		switch {
		case templateRef.MatchString(s.URL):
			v.errf(p.f("url"), "%q has a template; a digest is about many contacts, so its URL is fixed: remove the {{...}}", s.URL)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.errf(p.f("url"), "%q is not an http(s) URL; write it like \"https://hooks.example.com/hot-list\"", s.URL)
		}
	}
}

func modelHasBand(m *ScoreModel, name string) bool {
	for _, b := range m.Bands {
		if b.Name == name {
			return true
		}
	}
	return false
}
