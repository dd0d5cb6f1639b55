package flows

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// EvalCondition evaluates a condition on a contact snapshot at time now:
//
//	all / any / not  combine conditions (an empty all holds, an empty any
//	                 does not)
//	field            compares a field with Value using Op, as MatchFilters
//	                 does; built-in fields: contact_id, email, email_domain
//	                 (the lowercased part after '@'), stage, disqualified,
//	                 account_id (empty built-ins count as missing); any
//	                 other name is a dotted path into ct.Fields
//	tag              the contact has the tag
//	segment          the contact is in the segment (ct.Segments)
//	score            the contact's score in the model (0 when it has none)
//	                 compared with Value
//	band             the contact's band in the model (see BandFor; the model
//	                 comes from cat) is one of In; false when the model is
//	                 unknown or the score is below every band
//	events           the number of ct.Activity items of the type, matching
//	                 the filters, with now-Within < At <= now, compared with
//	                 Count
//
// A nil condition holds; ct and cat may be nil.
func EvalCondition(c *Condition, ct *Contact, now time.Time, cat *Catalog) bool {
	if c == nil {
		return true
	}
	if ct == nil {
		ct = &Contact{}
	}
	switch {
	case c.All != nil:
		for i := range c.All {
			if !EvalCondition(&c.All[i], ct, now, cat) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for i := range c.Any {
			if EvalCondition(&c.Any[i], ct, now, cat) {
				return true
			}
		}
		return false
	case c.Not != nil:
		return !EvalCondition(c.Not, ct, now, cat)
	case c.Field != "":
		v, ok := contactField(ct, c.Field)
		return matchOp(c.Op, v, ok, c.Value)
	case c.Tag != "":
		return slices.Contains(ct.Tags, c.Tag)
	case c.Segment != "":
		return slices.Contains(ct.Segments, c.Segment)
	case c.Score != nil:
		s := ct.Scores[c.Score.Model]
		return cmpHolds(c.Score.Op, cmpFloat(s, c.Score.Value))
	case c.Band != nil:
		m := cat.Model(c.Band.Model)
		if m == nil {
			return false
		}
		b, ok := BandFor(m, ct.Scores[c.Band.Model])
		return ok && slices.Contains(c.Band.In, b.Name)
	case c.Events != nil:
		n := countEvents(c.Events, ct, now)
		return cmpHolds(c.Events.Op, cmpFloat(float64(n), float64(c.Events.Count)))
	}
	return true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// contactField returns a built-in or custom field of the contact.
func contactField(ct *Contact, name string) (any, bool) {
	str := func(s string) (any, bool) { return s, s != "" }
	switch name {
	case "contact_id":
		return str(ct.ID)
	case "email":
		return str(ct.Email)
	case "email_domain":
		return str(emailDomain(ct.Email))
	case "stage":
		return str(ct.Stage)
	case "disqualified":
		return ct.Disqualified, true
	case "account_id":
		return str(ct.AccountID)
	}
	return lookupPath(ct.Fields, name)
}

func emailDomain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(email[i+1:])
}

// activityMatches says whether an activity is of the condition's type and
// matches its filters (whatever its time).
func activityMatches(e *EventsCondition, a *Activity) bool {
	return a.Type == e.Type && MatchFilters(e.Filters, a.Properties)
}

func countEvents(e *EventsCondition, ct *Contact, now time.Time) int {
	from := now.Add(-e.Within.Duration)
	n := 0
	for i := range ct.Activity {
		a := &ct.Activity[i]
		if a.At.After(from) && !a.At.After(now) && activityMatches(e, a) {
			n++
		}
	}
	return n
}

// ConditionChangesAt returns the earliest time strictly after now at which
// the condition's value changes only because time passes — an activity
// leaving an events window (at At+Within) or, for activities dated after
// now, entering it (at At) — and false when it never does with the current
// snapshot. The engine sets a durable timer at that time to re-evaluate
// ("no opens in the last 60 days" becomes true 60 days after the last
// open). The result is exact: the condition is evaluated at every candidate
// time in order.
func ConditionChangesAt(c *Condition, ct *Contact, now time.Time, cat *Catalog) (time.Time, bool) {
	if c == nil || ct == nil {
		return time.Time{}, false
	}
	var cands []time.Time
	var collect func(c *Condition)
	collect = func(c *Condition) {
		for i := range c.All {
			collect(&c.All[i])
		}
		for i := range c.Any {
			collect(&c.Any[i])
		}
		if c.Not != nil {
			collect(c.Not)
		}
		if e := c.Events; e != nil {
			for i := range ct.Activity {
				a := &ct.Activity[i]
				if !activityMatches(e, a) {
					continue
				}
				if a.At.After(now) {
					cands = append(cands, a.At)
				}
				if out := a.At.Add(e.Within.Duration); out.After(now) {
					cands = append(cands, out)
				}
			}
		}
	}
	collect(c)
	if len(cands) == 0 {
		return time.Time{}, false
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(cands[j]) })
	v0 := EvalCondition(c, ct, now, cat)
	for i, t := range cands {
		if i > 0 && t.Equal(cands[i-1]) {
			continue
		}
		if EvalCondition(c, ct, t, cat) != v0 {
			return t, true
		}
	}
	return time.Time{}, false
}
