package flows

import "strings"

// MatchTrigger reports whether the event starts a flow with this trigger
// (or scores for an engagement rule with it):
//
//	email_opened … email_bounced  ev.Type equals the trigger type
//	page_visited    ev.Type "page_visited" and property "url" matches URL:
//	                a glob where '*' matches any run of characters, or, with
//	                no '*', a prefix; an empty URL matches every page
//	event           ev.Type equals t.Event
//	field_changed   property "field" equals t.Field; "from"/"to" are each one
//	                of t.From/t.To when those are given (loose JSON equality)
//	tag_added/removed  property "tag" equals t.Tag when given
//	segment_entered/exited  property "segment" equals t.Segment
//	form_submitted  property "form" equals t.Form when given
//	score_threshold_crossed  properties "model" and "score" equal t.Model
//	                and t.Score, "direction" equals t.Direction ("up" when
//	                empty)
//	date_field      property "field" equals t.Field
//	schedule        never: a schedule flow is not started by a contact's
//	                event but by its Temporal Schedule
//
// Then every filter must hold on the event's properties (MatchFilters).
func MatchTrigger(t *Trigger, ev Event) bool {
	if t == nil {
		return false
	}
	p := ev.Properties
	prop := func(name string) any {
		v, _ := lookupPath(p, name)
		return v
	}
	propIs := func(name, want string) bool {
		s, ok := prop(name).(string)
		return ok && s == want
	}
	switch t.Type {
	case TriggerEmailOpened, TriggerEmailClicked, TriggerEmailReplied, TriggerEmailUnsubscribed, TriggerEmailBounced:
		if ev.Type != t.Type {
			return false
		}
	case TriggerPageVisited:
		if ev.Type != TriggerPageVisited {
			return false
		}
		if t.URL != "" {
			u, ok := prop("url").(string)
			if !ok || !matchURL(t.URL, u) {
				return false
			}
		}
	case TriggerEvent:
		if t.Event == "" || ev.Type != t.Event {
			return false
		}
	case TriggerFieldChanged:
		if ev.Type != TriggerFieldChanged || !propIs("field", t.Field) {
			return false
		}
		if len(t.From) > 0 && !looseIn(prop("from"), t.From) {
			return false
		}
		if len(t.To) > 0 && !looseIn(prop("to"), t.To) {
			return false
		}
	case TriggerTagAdded, TriggerTagRemoved:
		if ev.Type != t.Type || t.Tag != "" && !propIs("tag", t.Tag) {
			return false
		}
	case TriggerSegmentEntered, TriggerSegmentExited:
		if ev.Type != t.Type || !propIs("segment", t.Segment) {
			return false
		}
	case TriggerFormSubmitted:
		if ev.Type != TriggerFormSubmitted || t.Form != "" && !propIs("form", t.Form) {
			return false
		}
	case TriggerScoreThresholdCrossed:
		if ev.Type != TriggerScoreThresholdCrossed || !propIs("model", t.Model) {
			return false
		}
		if t.Score == nil || !looseEqual(prop("score"), *t.Score) {
			return false
		}
		dir := t.Direction
		if dir == "" {
			dir = "up"
		}
		if !propIs("direction", dir) {
			return false
		}
	case TriggerDateField:
		if ev.Type != TriggerDateField || !propIs("field", t.Field) {
			return false
		}
	default: // TriggerSchedule included
		return false
	}
	return MatchFilters(t.Filters, p)
}

func looseIn(v any, items []any) bool {
	for _, it := range items {
		if looseEqual(v, it) {
			return true
		}
	}
	return false
}

// matchURL matches a page_visited pattern: a glob when it holds '*', else a
// prefix.
func matchURL(pattern, u string) bool {
	if !strings.Contains(pattern, "*") {
		return strings.HasPrefix(u, pattern)
	}
	return globMatch(pattern, u)
}

// globMatch matches s against a pattern where '*' stands for any run of
// characters (possibly empty); everything else matches itself. The whole
// string must match. It runs in linear time (greedy with backtracking to the
// last star).
func globMatch(pattern, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(pattern) && pattern[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}
