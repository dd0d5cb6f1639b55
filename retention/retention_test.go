package retention_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/retention"
	"github.com/leadflow/leadflow/store"
)

const day = 24 * time.Hour

func TestParseHorizon(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"", 0, ""},
		{"none", 0, ""},
		{" NONE ", 0, ""},
		{"400d", 400 * day, ""},
		{"8w", 56 * day, ""},
		{"720h", 30 * day, ""},
		{"0d", 0, `"0d" must be greater than zero (or "none" to keep events for ever)`},
		{"-5d", 0, `"-5d" must be greater than zero (or "none" to keep events for ever)`},
		{"1.5d", 0, `"1.5d": use a whole number with one unit (e.g. "90m" instead of "1.5h") (or "none" to keep events for ever)`},
		{"forever", 0, `"forever" is not a duration; write an integer and one unit s, m, h, d or w (e.g. "60d") (or "none" to keep events for ever)`},
	} {
		got, err := retention.ParseHorizon(tc.in)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func decode(t *testing.T, body string) []flows.Document {
	t.Helper()
	docs, errs := flows.DecodeAndValidate("test", []byte(body), nil)
	require.Empty(t, errs)
	return docs
}

// Every place a definition reads past events, with its window.
func TestNeeds(t *testing.T) {
	t.Parallel()
	docs := decode(t, `[
{"kind": "segment", "id": "quiet", "name": "Quiet", "rule": {"all": [
  {"tag": "x"},
  {"not": {"events": {"type": "email_opened", "within": "60d", "op": "gte", "count": 1}}},
  {"any": [{"events": {"type": "page_visited", "within": "2w", "op": "eq", "count": 0}}]}]}},
{"kind": "score_model", "id": "m", "name": "M",
 "profile": [{"id": "active", "when": {"events": {"type": "login", "within": "30d", "op": "gte", "count": 3}}, "points": 5}],
 "engagement": [
  {"id": "plain", "on": {"type": "page_visited"}, "points": 1},
  {"id": "weekly", "on": {"type": "page_visited"}, "points": 5, "frequency": {"count": 3, "within": "7d"}},
  {"id": "ever", "on": {"type": "form_submitted"}, "points": 5, "frequency": {"count": 2}}]},
{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "event", "event": "go"}, "entry": "once", "steps": [
  {"id": "check", "type": "condition", "if": {"events": {"type": "email_clicked", "within": "90d", "op": "gte", "count": 1}}, "then": "tag", "else": "end"},
  {"id": "tag", "type": "add_tag", "tag": "clicker"}]}
]`)
	var got []retention.Need
	for _, d := range docs {
		got = append(got, retention.Needs(d)...)
	}
	require.Equal(t, []retention.Need{
		{Definition: "quiet", Kind: "segment", Path: "rule.all[1].not.events.within", Window: 60 * day},
		{Definition: "quiet", Kind: "segment", Path: "rule.all[2].any[0].events.within", Window: 14 * day},
		{Definition: "m", Kind: "score_model", Path: "profile[0].when.events.within", Window: 30 * day},
		{Definition: "m", Kind: "score_model", Path: "engagement[1].frequency.within", Window: 7 * day},
		{Definition: "m", Kind: "score_model", Path: "engagement[2].frequency.within", AllHistory: true},
		{Definition: "f", Kind: "flow", Path: "steps[0].if.events.within", Window: 90 * day},
	}, got)

	err := retention.Check(100*day, docs)
	var short *retention.TooShortError
	require.True(t, errors.As(err, &short))
	require.Equal(t, "engagement[2].frequency.within", short.Need.Path)
	require.EqualError(t, err, `event retention 100d is refused: score_model "m" reads events of any age at engagement[2].frequency.within (no "within": any time), so it needs every event kept; give it a "within" no longer than 100d, or unset LEADFLOW_EVENT_RETENTION`)

	err = retention.Check(50*day, docs[:1])
	require.EqualError(t, err, `event retention 50d is refused: segment "quiet" reads events 60d back at rule.all[1].not.events.within, longer than the horizon; set LEADFLOW_EVENT_RETENTION to at least 60d, or shorten that window`)
	require.NoError(t, retention.Check(60*day, docs[:1]), "a window equal to the horizon is kept whole")
	require.NoError(t, retention.Check(0, docs), "no horizon")
	require.NoError(t, retention.Check(90*day, docs[2:]))
}

// Stored definitions: archived ones and bodies that no longer decode are
// not checked.
func TestCheckDefinitions(t *testing.T) {
	t.Parallel()
	seg := `{"kind": "segment", "id": "s", "name": "S", "rule": {"events": {"type": "visit", "within": "365d", "op": "gte", "count": 1}}}`
	defs := []store.Definition{{ID: "s", Kind: "segment", Status: "published", Body: []byte(seg)}}
	require.Error(t, retention.CheckDefinitions(30*day, defs))
	defs[0].Status = "paused"
	require.Error(t, retention.CheckDefinitions(30*day, defs), "a paused definition may be resumed")
	defs[0].Status = "archived"
	require.NoError(t, retention.CheckDefinitions(30*day, defs))
	require.NoError(t, retention.CheckDefinitions(30*day, []store.Definition{{ID: "x", Status: "published", Body: []byte(`{"kind": "nope"}`)}}))
}
