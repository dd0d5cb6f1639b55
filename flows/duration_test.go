package flows

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"90s", 90 * time.Second, ""},
		{"15m", 15 * time.Minute, ""},
		{"12h", 12 * time.Hour, ""},
		{"60d", 60 * Day, ""},
		{"2w", 14 * Day, ""},
		{"0s", 0, ""},
		{"-3d", -3 * Day, ""},
		{"007m", 7 * time.Minute, ""},
		{"10x", 0, `"10x": unknown unit "x"; use s, m, h, d or w (e.g. "60d")`},
		{"10", 0, `"10" has no unit; add one of s, m, h, d or w (e.g. "10d")`},
		{"1.5h", 0, `"1.5h": use a whole number with one unit (e.g. "90m" instead of "1.5h")`},
		{"1h30m", 0, `"1h30m": use a single unit (e.g. "90m" instead of "1h30m")`},
		{"", 0, `empty duration; write an integer and one unit s, m, h, d or w (e.g. "60d")`},
		{"d", 0, `"d" is not a duration; write an integer and one unit s, m, h, d or w (e.g. "60d")`},
		{"+5d", 0, `"+5d" is not a duration; write an integer and one unit s, m, h, d or w (e.g. "60d")`},
		{"5 d", 0, `"5 d": unknown unit " d"; use s, m, h, d or w (e.g. "60d")`},
		{"5D", 0, `"5D": unknown unit "D"; use s, m, h, d or w (e.g. "60d")`},
		{"15251w", 0, `"15251w" is too long; the longest duration is 15250w`},
		{"99999999999999999999s", 0, `"99999999999999999999s" is too long; the longest duration is 15250w`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDuration(c.in)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, d.Duration)
		})
	}
}

func TestDurationCanonical(t *testing.T) {
	t.Parallel()
	cases := map[time.Duration]string{
		0:                  "0s",
		90 * time.Second:   "90s",
		120 * time.Second:  "2m",
		90 * time.Minute:   "90m",
		1440 * time.Hour:   "60d",
		14 * Day:           "2w",
		7 * Day:            "1w",
		-3 * Day:           "-3d",
		25 * time.Hour:     "25h",
		3601 * time.Second: "3601s",
	}
	for d, want := range cases {
		require.Equal(t, want, Duration{d}.String())
		b, err := json.Marshal(Duration{d})
		require.NoError(t, err)
		require.Equal(t, `"`+want+`"`, string(b))
		var back Duration
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, d, back.Duration)
	}
	_, err := json.Marshal(Duration{1500 * time.Millisecond})
	require.Error(t, err, "sub-second durations have no JSON form")
	require.Equal(t, "1.5s", Duration{1500 * time.Millisecond}.String())

	var d Duration
	require.EqualError(t, json.Unmarshal([]byte(`"10x"`), &d), `"10x": unknown unit "x"; use s, m, h, d or w (e.g. "60d")`)
	require.Error(t, json.Unmarshal([]byte(`10`), &d))
}

func TestZeroDurationsOmitted(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Step{ID: "a", Type: StepAddTag, Tag: "x"})
	require.NoError(t, err)
	require.JSONEq(t, `{"id": "a", "type": "add_tag", "tag": "x"}`, string(b))
	b, err = json.Marshal(Decay{HalfLife: Duration{30 * Day}})
	require.NoError(t, err)
	require.JSONEq(t, `{"half_life": "30d"}`, string(b))
}

func TestEntryJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		entry Entry
		json  string
	}{
		{Entry{Policy: EntryOnce}, `"once"`},
		{Entry{Policy: EntryEveryTime}, `"every_time"`},
		{Entry{Policy: EntryOncePer, Period: Duration{30 * Day}}, `{"once_per":"30d"}`},
		{Entry{}, `null`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.entry)
		require.NoError(t, err)
		require.Equal(t, c.json, string(b))
		if c.entry.Policy == "" {
			continue
		}
		var back Entry
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, c.entry, back)
	}
	var e Entry
	require.NoError(t, json.Unmarshal([]byte(`{"once_per": "720h"}`), &e))
	require.Equal(t, Entry{Policy: EntryOncePer, Period: Duration{30 * Day}}, e)
	require.ErrorContains(t, json.Unmarshal([]byte(`"always"`), &e), `unknown entry "always"`)
	require.ErrorContains(t, json.Unmarshal([]byte(`{"once_per": "30d", "x": 1}`), &e), `exactly one field`)
	require.ErrorContains(t, json.Unmarshal([]byte(`{"once_per": "3q"}`), &e), `unknown unit "q"`)
	require.ErrorContains(t, json.Unmarshal([]byte(`5`), &e), `use "once"`)
	_, err := json.Marshal(Entry{Policy: "sometimes"})
	require.Error(t, err)
}
