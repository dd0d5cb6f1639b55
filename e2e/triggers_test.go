package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// One flow per trigger type, each tagging the contact: every trigger fires
// end to end through the HTTP API.
func TestEveryTriggerType(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	flow := func(id, trigger string) string {
		return fmt.Sprintf(`{"kind": "flow", "id": %q, "name": %q, "trigger": %s, "entry": "every_time",
			"steps": [{"id": "tag", "type": "add_tag", "tag": "t-%s"}]}`, id, id, trigger, id)
	}
	docs := []string{
		`{"kind": "score_model", "id": "m", "name": "M", "engagement": [{"id": "p", "on": {"type": "event", "event": "points"}, "points": 5}]}`,
		`{"kind": "segment", "id": "vip", "name": "VIP", "rule": {"tag": "vip-flag"}}`,
		flow("seg-in", `{"type": "segment_entered", "segment": "vip"}`),
		flow("seg-out", `{"type": "segment_exited", "segment": "vip"}`),
		flow("open", `{"type": "email_opened"}`),
		flow("click", `{"type": "email_clicked", "filters": [{"property": "campaign", "op": "eq", "value": "nurture"}]}`),
		flow("reply", `{"type": "email_replied"}`),
		flow("unsub", `{"type": "email_unsubscribed"}`),
		flow("bounce", `{"type": "email_bounced"}`),
		flow("page", `{"type": "page_visited", "url": "*/pricing*"}`),
		flow("event", `{"type": "event", "event": "trial_started", "filters": [{"property": "plan", "op": "in", "value": ["pro", "team"]}]}`),
		flow("field", `{"type": "field_changed", "field": "role", "to": ["CMO"]}`),
		flow("tag-added", `{"type": "tag_added", "tag": "vip-flag"}`),
		flow("tag-removed", `{"type": "tag_removed", "tag": "vip-flag"}`),
		flow("form", `{"type": "form_submitted", "form": "demo"}`),
		flow("cross", `{"type": "score_threshold_crossed", "model": "m", "score": 10, "direction": "up"}`),
		flow("date", `{"type": "date_field", "field": "trial_ends_at", "offset": "-3d"}`),
	}
	st.publish([]byte("[" + strings.Join(docs, ",") + "]"))

	trialEnds := time.Now().Add(72*time.Hour + 3*time.Second).UTC().Format(time.RFC3339)
	code := st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "bo", "email": "bo@example.com",
		"fields": map[string]any{"role": "CMO", "trial_ends_at": trialEnds}}, nil)
	require.Contains(t, []int{200, 202}, code)
	st.send(
		ev("e1", "email_opened", "bo", nil),
		ev("e2", "email_clicked", "bo", map[string]any{"campaign": "nurture"}),
		ev("e2b", "email_clicked", "bo", map[string]any{"campaign": "other"}),
		ev("e3", "email_replied", "bo", nil),
		ev("e4", "email_unsubscribed", "bo", nil),
		ev("e5", "email_bounced", "bo", nil),
		ev("e6", "page_visited", "bo", map[string]any{"url": "https://example.com/pricing?plan=pro"}),
		ev("e7", "trial_started", "bo", map[string]any{"plan": "pro"}),
		ev("e8", "form_submitted", "bo", map[string]any{"form": "demo"}),
		ev("e9", "points", "bo", nil),
		ev("e10", "points", "bo", nil),
	)
	code = st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "bo", "tags": []string{"vip-flag"}}, nil)
	require.Contains(t, []int{200, 202}, code)
	st.eventually("bo", 10*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "t-seg-in") })
	code = st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "bo", "remove_tags": []string{"vip-flag"}}, nil)
	require.Contains(t, []int{200, 202}, code)

	want := []string{"t-seg-in", "t-seg-out", "t-open", "t-click", "t-reply", "t-unsub", "t-bounce", "t-page", "t-event",
		"t-field", "t-tag-added", "t-tag-removed", "t-form", "t-cross", "t-date"}
	c := st.eventually("bo", 20*time.Second, func(c contact) bool {
		for _, w := range want {
			if !slices.Contains(c.Tags, w) {
				return false
			}
		}
		return true
	})
	require.NotContains(t, c.Tags, "vip-flag")
	require.Equal(t, 10.0, c.Scores["m"].Score)

	// Each flow ran exactly once (the click with another campaign did not match).
	var runs int
	require.NoError(t, st.Store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM flow_runs WHERE flow_id = 'click'`).Scan(&runs))
	require.Equal(t, 1, runs)
}
