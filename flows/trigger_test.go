package flows

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMatchTrigger(t *testing.T) {
	t.Parallel()
	score := func(f float64) *float64 { return &f }
	ev := func(typ string, props map[string]any) Event { return Event{ID: "e1", Type: typ, Properties: props} }
	cases := []struct {
		name string
		t    Trigger
		ev   Event
		want bool
	}{
		{"email_opened", Trigger{Type: TriggerEmailOpened}, ev("email_opened", nil), true},
		{"email_opened other type", Trigger{Type: TriggerEmailOpened}, ev("email_clicked", nil), false},
		{"email_clicked", Trigger{Type: TriggerEmailClicked}, ev("email_clicked", nil), true},
		{"email_replied", Trigger{Type: TriggerEmailReplied}, ev("email_replied", nil), true},
		{"email_unsubscribed", Trigger{Type: TriggerEmailUnsubscribed}, ev("email_unsubscribed", nil), true},
		{"email_bounced", Trigger{Type: TriggerEmailBounced}, ev("email_bounced", nil), true},
		{"email with filter", Trigger{Type: TriggerEmailClicked, Filters: []Filter{{Property: "campaign", Op: OpEq, Value: "nl"}}},
			ev("email_clicked", map[string]any{"campaign": "nl"}), true},
		{"email with failing filter", Trigger{Type: TriggerEmailClicked, Filters: []Filter{{Property: "campaign", Op: OpEq, Value: "nl"}}},
			ev("email_clicked", map[string]any{"campaign": "promo"}), false},

		{"page any", Trigger{Type: TriggerPageVisited}, ev("page_visited", map[string]any{"url": "https://x.com/"}), true},
		{"page any without url", Trigger{Type: TriggerPageVisited}, ev("page_visited", nil), true},
		{"page prefix", Trigger{Type: TriggerPageVisited, URL: "https://x.com/pricing"}, ev("page_visited", map[string]any{"url": "https://x.com/pricing/teams"}), true},
		{"page prefix no", Trigger{Type: TriggerPageVisited, URL: "https://x.com/pricing"}, ev("page_visited", map[string]any{"url": "https://x.com/about"}), false},
		{"page glob", Trigger{Type: TriggerPageVisited, URL: "*/contact*"}, ev("page_visited", map[string]any{"url": "https://x.com/contact?ref=1"}), true},
		{"page glob anchored", Trigger{Type: TriggerPageVisited, URL: "*/contact"}, ev("page_visited", map[string]any{"url": "https://x.com/contact/us"}), false},
		{"page glob middle", Trigger{Type: TriggerPageVisited, URL: "https://*.x.com/*"}, ev("page_visited", map[string]any{"url": "https://app.x.com/home"}), true},
		{"page url missing", Trigger{Type: TriggerPageVisited, URL: "https://x.com"}, ev("page_visited", nil), false},
		{"page url not string", Trigger{Type: TriggerPageVisited, URL: "https"}, ev("page_visited", map[string]any{"url": 5}), false},
		{"page wrong type", Trigger{Type: TriggerPageVisited}, ev("email_opened", nil), false},

		{"event", Trigger{Type: TriggerEvent, Event: "signed_up"}, ev("signed_up", nil), true},
		{"event other", Trigger{Type: TriggerEvent, Event: "signed_up"}, ev("logged_in", nil), false},
		{"event filter", Trigger{Type: TriggerEvent, Event: "purchase", Filters: []Filter{{Property: "amount", Op: OpGte, Value: 100.0}}},
			ev("purchase", map[string]any{"amount": 150}), true},
		{"event filter fails", Trigger{Type: TriggerEvent, Event: "purchase", Filters: []Filter{{Property: "amount", Op: OpGte, Value: 100.0}}},
			ev("purchase", map[string]any{"amount": 50}), false},
		{"event empty name", Trigger{Type: TriggerEvent}, ev("", nil), false},

		{"field_changed", Trigger{Type: TriggerFieldChanged, Field: "role"}, ev("field_changed", map[string]any{"field": "role", "from": "a", "to": "b"}), true},
		{"field_changed other field", Trigger{Type: TriggerFieldChanged, Field: "role"}, ev("field_changed", map[string]any{"field": "plan"}), false},
		{"field_changed to", Trigger{Type: TriggerFieldChanged, Field: "role", To: []any{"student", "unemployed"}},
			ev("field_changed", map[string]any{"field": "role", "to": "student"}), true},
		{"field_changed to no", Trigger{Type: TriggerFieldChanged, Field: "role", To: []any{"student"}},
			ev("field_changed", map[string]any{"field": "role", "to": "cto"}), false},
		{"field_changed from null", Trigger{Type: TriggerFieldChanged, Field: "role", From: []any{nil}},
			ev("field_changed", map[string]any{"field": "role", "from": nil, "to": "x"}), true},
		{"field_changed numbers loose", Trigger{Type: TriggerFieldChanged, Field: "nps", To: []any{9.0, 10.0}},
			ev("field_changed", map[string]any{"field": "nps", "to": 10}), true},
		{"field_changed string vs number", Trigger{Type: TriggerFieldChanged, Field: "nps", To: []any{5.0}},
			ev("field_changed", map[string]any{"field": "nps", "to": "5"}), false},
		{"field_changed from and to", Trigger{Type: TriggerFieldChanged, Field: "stage", From: []any{"lead"}, To: []any{"mql"}},
			ev("field_changed", map[string]any{"field": "stage", "from": "sql", "to": "mql"}), false},

		{"tag_added any", Trigger{Type: TriggerTagAdded}, ev("tag_added", map[string]any{"tag": "x"}), true},
		{"tag_added named", Trigger{Type: TriggerTagAdded, Tag: "vip"}, ev("tag_added", map[string]any{"tag": "vip"}), true},
		{"tag_added other", Trigger{Type: TriggerTagAdded, Tag: "vip"}, ev("tag_added", map[string]any{"tag": "x"}), false},
		{"tag_removed", Trigger{Type: TriggerTagRemoved, Tag: "vip"}, ev("tag_removed", map[string]any{"tag": "vip"}), true},
		{"tag_removed is not added", Trigger{Type: TriggerTagRemoved, Tag: "vip"}, ev("tag_added", map[string]any{"tag": "vip"}), false},

		{"segment_entered", Trigger{Type: TriggerSegmentEntered, Segment: "hot"}, ev("segment_entered", map[string]any{"segment": "hot"}), true},
		{"segment_entered other", Trigger{Type: TriggerSegmentEntered, Segment: "hot"}, ev("segment_entered", map[string]any{"segment": "cold"}), false},
		{"segment_exited", Trigger{Type: TriggerSegmentExited, Segment: "hot"}, ev("segment_exited", map[string]any{"segment": "hot"}), true},
		{"segment_exited vs entered", Trigger{Type: TriggerSegmentExited, Segment: "hot"}, ev("segment_entered", map[string]any{"segment": "hot"}), false},

		{"form any", Trigger{Type: TriggerFormSubmitted}, ev("form_submitted", map[string]any{"form": "x"}), true},
		{"form named", Trigger{Type: TriggerFormSubmitted, Form: "demo"}, ev("form_submitted", map[string]any{"form": "demo"}), true},
		{"form other", Trigger{Type: TriggerFormSubmitted, Form: "demo"}, ev("form_submitted", map[string]any{"form": "newsletter"}), false},

		{"threshold up default", Trigger{Type: TriggerScoreThresholdCrossed, Model: "main", Score: score(50)},
			ev("score_threshold_crossed", map[string]any{"model": "main", "score": 50, "direction": "up"}), true},
		{"threshold down", Trigger{Type: TriggerScoreThresholdCrossed, Model: "main", Score: score(50), Direction: "down"},
			ev("score_threshold_crossed", map[string]any{"model": "main", "score": 50.0, "direction": "down"}), true},
		{"threshold wrong direction", Trigger{Type: TriggerScoreThresholdCrossed, Model: "main", Score: score(50)},
			ev("score_threshold_crossed", map[string]any{"model": "main", "score": 50, "direction": "down"}), false},
		{"threshold other score", Trigger{Type: TriggerScoreThresholdCrossed, Model: "main", Score: score(50)},
			ev("score_threshold_crossed", map[string]any{"model": "main", "score": 80, "direction": "up"}), false},
		{"threshold other model", Trigger{Type: TriggerScoreThresholdCrossed, Model: "main", Score: score(50)},
			ev("score_threshold_crossed", map[string]any{"model": "b", "score": 50, "direction": "up"}), false},
		{"threshold without score", Trigger{Type: TriggerScoreThresholdCrossed, Model: "main"},
			ev("score_threshold_crossed", map[string]any{"model": "main", "score": 50, "direction": "up"}), false},

		{"date_field", Trigger{Type: TriggerDateField, Field: "trial_ends_at"}, ev("date_field", map[string]any{"field": "trial_ends_at"}), true},
		{"date_field other", Trigger{Type: TriggerDateField, Field: "trial_ends_at"}, ev("date_field", map[string]any{"field": "renewal"}), false},

		{"unknown trigger type", Trigger{Type: "sms_sent"}, ev("sms_sent", nil), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, MatchTrigger(&c.t, c.ev))
		})
	}
	require.False(t, MatchTrigger(nil, ev("email_opened", nil)))
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "abc", true},
		{"a*c", "ab", false},
		{"*/pricing*", "https://x.com/pricing", true},
		{"*/pricing*", "https://x.com/about", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxcyyb", false},
		{"**", "x", true},
		{"a**b", "ab", true},
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"*aab", "aaaab", true},
	}
	for _, c := range cases {
		require.Equal(t, c.want, globMatch(c.pattern, c.s), "%q %q", c.pattern, c.s)
	}
}

// A schedule trigger never matches an event, whatever its type: the
// per-contact engine ignores schedule flows.
func TestMatchTriggerScheduleNeverMatches(t *testing.T) {
	t.Parallel()
	tr := &Trigger{Type: TriggerSchedule, Cron: "0 9 * * 1-5", Timezone: "Europe/Rome"}
	for _, typ := range append([]string{TriggerSchedule, "page_visited", "signed_up"}, DerivedEventTypes()...) {
		require.False(t, MatchTrigger(tr, Event{Type: typ, Properties: map[string]any{}}), typ)
	}
}
