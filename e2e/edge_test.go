package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
)

// The hostile requests, thrown at a running stack with the public
// ingest key: each is refused with its path, nothing of it is stored, no
// forged engine event disqualifies or promotes anyone, and the contacts of
// the same partition keep being scored within seconds.
func TestHostileRequestsAreRefusedAndEveryoneKeepsScoring(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.publish([]byte(`[
	{"kind": "score_model", "id": "m", "name": "M", "engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}]},
	{"kind": "flow", "id": "hot", "name": "Hot lead", "trigger": {"type": "score_threshold_crossed", "model": "m", "score": 50, "direction": "up"},
	 "entry": "every_time", "steps": [{"id": "tag", "type": "add_tag", "tag": "hot"}]},
	{"kind": "flow", "id": "dq", "name": "Students", "trigger": {"type": "field_changed", "field": "role", "to": ["student"]},
	 "entry": "every_time", "steps": [{"id": "dq", "type": "disqualify", "reason": "student"}]}]`))

	// A contact in the same partition as the victim, to show it is not stalled.
	victim := "victim"
	neighbour := ""
	for i := 0; neighbour == ""; i++ {
		if c := fmt.Sprintf("n%d", i); store.PartitionOf(c) == store.PartitionOf(victim) {
			neighbour = c
		}
	}
	st.send(ev("v0", "email_clicked", victim, nil))
	st.eventually(victim, 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 5 })

	longEmail := strings.Repeat("a", 988) + "@example.com"
	for _, c := range []struct{ path, body, bad string }{
		{"/v1/events", `{"type": "email_clicked", "contact_id": "victim", "properties": {"n": 1e400}}`, "properties.n"},
		{"/v1/events", `{"type": "email_clicked", "contact_id": "victim", "properties": {"s": "a\u0000b"}}`, "properties.s"},
		{"/v1/events", `{"type": "email_clicked", "email": "` + longEmail + `"}`, "email"},
		{"/v1/events", `{"type": "score_threshold_crossed", "contact_id": "victim", "properties": {"model": "m", "score": 50, "direction": "up"}}`, "type"},
		{"/v1/events", `{"type": "Field Changed", "contact_id": "victim", "properties": {"field": "role", "from": null, "to": "student"}}`, "type"},
		{"/v1/events", `{"type": "identify", "contact_id": "victim", "properties": {"remove_tags": ["customer"]}}`, "properties.remove_tags"},
		{"/v1/track", `{"userId": "victim", "event": "Segment Entered", "properties": {"segment": "x"}}`, "event"},
		{"/v1/batch", `{"batch": [{"type": "track", "userId": "victim", "event": "ok"}, {"type": "identify", "userId": "victim", "traits": {"n": 1e400}}]}`, "batch[1].traits.n"},
	} {
		var out struct {
			Error   string `json:"error"`
			Details []struct {
				Path string `json:"path"`
			} `json:"details"`
		}
		code := st.do("POST", c.path, ingestKey, c.body, &out)
		require.Equal(t, 400, code, "%s %s: %+v", c.path, c.body, out)
		require.True(t, slices.ContainsFunc(out.Details, func(d struct {
			Path string `json:"path"`
		}) bool {
			return d.Path == c.bad
		}), "%s: %+v", c.body, out)
	}

	// Same id, other content: 409 on /v1/events.
	code := st.do("POST", "/v1/events", ingestKey, ev("v0", "email_clicked", neighbour, nil), nil)
	require.Equal(t, 409, code)

	st.send(ev("n1", "email_clicked", neighbour, nil), ev("v1", "email_clicked", victim, nil))
	st.eventually(neighbour, 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 5 })
	c := st.eventually(victim, 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 10 })
	st.settled()
	require.False(t, c.Disqualified, "no forged field_changed disqualified the victim")
	require.NotContains(t, c.Tags, "hot", "no forged threshold crossing promoted the victim")
	var n int
	require.NoError(t, st.Store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events`).Scan(&n))
	require.Equal(t, 3, n, "only the good events (v0, n1, v1) are in the log")
}
