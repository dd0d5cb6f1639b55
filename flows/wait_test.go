package flows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWaitUntilTimeOfDay(t *testing.T) {
	t.Parallel()
	// Saturday 2024-03-09 15:00 UTC is 10:00 in New York (EST); DST starts
	// there on Sunday 2024-03-10 at 02:00.
	now := time.Date(2024, 3, 9, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		name, zone, at string
		want           time.Time
	}{
		{"later today", "America/New_York", "11:00", time.Date(2024, 3, 9, 16, 0, 0, 0, time.UTC)},
		{"now is not after now", "America/New_York", "10:00", time.Date(2024, 3, 10, 14, 0, 0, 0, time.UTC)},
		{"tomorrow after DST starts", "America/New_York", "09:00", time.Date(2024, 3, 10, 13, 0, 0, 0, time.UTC)},
		{"Rome evening", "Europe/Rome", "17:30", time.Date(2024, 3, 9, 16, 30, 0, 0, time.UTC)},
		{"Rome morning is tomorrow", "Europe/Rome", "09:00", time.Date(2024, 3, 10, 8, 0, 0, 0, time.UTC)},
		{"Tokyo", "Asia/Tokyo", "00:30", time.Date(2024, 3, 9, 15, 30, 0, 0, time.UTC)},
		{"missing zone is UTC", "", "15:01", time.Date(2024, 3, 9, 15, 1, 0, 0, time.UTC)},
		{"unknown zone is UTC", "Mars/Olympus", "09:00", time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ct := &Contact{Fields: map[string]any{}}
			if c.zone != "" {
				ct.Fields["timezone"] = c.zone
			}
			got, err := WaitUntil(&Step{Type: StepWaitUntil, TimeOfDay: c.at}, ct, now)
			require.NoError(t, err)
			require.Equal(t, c.want, got)
			require.Equal(t, time.UTC, got.Location())
		})
	}
}

func TestWaitUntilField(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 3, 9, 15, 0, 0, 0, time.UTC)
	ct := &Contact{ID: "c1", Fields: map[string]any{
		"trial_ends_at": "2024-03-20T00:00:00Z",
		"renewal":       "2024-03-20",
		"past":          "2024-01-01T00:00:00Z",
		"bad":           "soon",
		"number":        12.0,
		"go_time":       time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC),
		"timezone":      "America/New_York",
	}}
	step := func(field, offset string) *Step {
		s := &Step{Type: StepWaitUntil, Field: field}
		if offset != "" {
			d, err := ParseDuration(offset)
			require.NoError(t, err)
			s.Offset = d
		}
		return s
	}
	got, err := WaitUntil(step("trial_ends_at", "-3d"), ct, now)
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 3, 17, 0, 0, 0, 0, time.UTC), got)

	got, err = WaitUntil(step("renewal", ""), ct, now) // midnight in New York (EDT)
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 3, 20, 4, 0, 0, 0, time.UTC), got)

	got, err = WaitUntil(step("past", "1d"), ct, now)
	require.NoError(t, err)
	require.Equal(t, now, got, "a date already past ends the wait now")

	got, err = WaitUntil(step("go_time", "12h"), ct, now)
	require.NoError(t, err)
	require.Equal(t, time.Date(2024, 4, 1, 12, 0, 0, 0, time.UTC), got)

	_, err = WaitUntil(step("missing", ""), ct, now)
	require.ErrorContains(t, err, `no field "missing"`)
	_, err = WaitUntil(step("bad", ""), ct, now)
	require.ErrorContains(t, err, `not a date`)
	_, err = WaitUntil(step("number", ""), ct, now)
	require.ErrorContains(t, err, `not a date`)
	_, err = WaitUntil(&Step{Type: StepWait}, ct, now)
	require.Error(t, err)
	_, err = WaitUntil(&Step{Type: StepWaitUntil, TimeOfDay: "25:00"}, ct, now)
	require.Error(t, err)
}

func TestDateTriggerDue(t *testing.T) {
	t.Parallel()
	ct := &Contact{Fields: map[string]any{"trial_ends_at": "2024-03-20T10:00:00+01:00", "day": "2024-03-20"}}
	tr := &Trigger{Type: TriggerDateField, Field: "trial_ends_at", Offset: Duration{-3 * Day}}
	at, ok := DateTriggerDue(tr, ct)
	require.True(t, ok)
	require.Equal(t, time.Date(2024, 3, 17, 9, 0, 0, 0, time.UTC), at)

	at, ok = DateTriggerDue(&Trigger{Type: TriggerDateField, Field: "day"}, ct)
	require.True(t, ok)
	require.Equal(t, time.Date(2024, 3, 20, 0, 0, 0, 0, time.UTC), at)

	_, ok = DateTriggerDue(&Trigger{Type: TriggerDateField, Field: "missing"}, ct)
	require.False(t, ok)
	_, ok = DateTriggerDue(&Trigger{Type: TriggerEvent, Field: "day"}, ct)
	require.False(t, ok)
	_, ok = DateTriggerDue(tr, nil)
	require.False(t, ok)
}
