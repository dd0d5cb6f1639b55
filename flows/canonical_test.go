package flows

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func decodeOne(t *testing.T, src string) Document {
	t.Helper()
	docs, errs := Decode("t.json", []byte(src))
	require.Empty(t, errs)
	require.Len(t, docs, 1)
	return docs[0]
}

func TestCanonicalAndHash(t *testing.T) {
	t.Parallel()
	a := decodeOne(t, `{"kind": "flow", "id": "f", "name": "F",
		"trigger": {"type": "score_threshold_crossed", "model": "m", "score": 50},
		"entry": {"once_per": "1440h"},
		"steps": [{"id": "w", "type": "wait", "duration": "120s"},
		          {"id": "s", "type": "lead_score", "model": "m", "op": "add", "points": 1.0, "cap": {"points": 1e1, "period": "168h"}}]}`)
	b := decodeOne(t, `{"$schema": "x.json", "steps": [ {"type":"wait","duration":"2m","id":"w"},
		{"cap": {"period": "1w", "points": 10}, "points": 1, "op": "add", "model": "m", "type": "lead_score", "id": "s"}],
		"entry":{"once_per":"60d"},"name":"F","id":"f","kind":"flow",
		"trigger": {"direction": "up", "score": 50.0, "model": "m", "type": "score_threshold_crossed", "filters": []}}`)
	ca, err := Canonical(a)
	require.NoError(t, err)
	cb, err := Canonical(b)
	require.NoError(t, err)
	require.Equal(t, string(ca), string(cb))
	require.Equal(t, `{"entry":{"once_per":"60d"},"id":"f","kind":"flow","name":"F","steps":[{"duration":"2m","id":"w","type":"wait"},{"cap":{"period":"1w","points":10},"id":"s","model":"m","op":"add","points":1,"type":"lead_score"}],"trigger":{"direction":"up","model":"m","score":50,"type":"score_threshold_crossed"}}`, string(ca))
	require.Equal(t, Hash(a), Hash(b))
	require.Len(t, Hash(a), 64)

	// Any real difference changes the hash.
	c := decodeOne(t, `{"kind": "flow", "id": "f", "name": "F",
		"trigger": {"type": "score_threshold_crossed", "model": "m", "score": 50, "direction": "down"},
		"entry": {"once_per": "60d"},
		"steps": [{"id": "w", "type": "wait", "duration": "2m"},
		          {"id": "s", "type": "lead_score", "model": "m", "op": "add", "points": 1, "cap": {"points": 10, "period": "1w"}}]}`)
	require.NotEqual(t, Hash(a), Hash(c))

	// Hand-built documents: kind and defaults filled, zero values omitted,
	// no HTML escaping, templates kept.
	hand := Document{Flow: &Flow{ID: "x", Name: "<b>&", Trigger: Trigger{Type: TriggerScoreThresholdCrossed, Model: "m", Score: new(float64)},
		Entry: Entry{Policy: EntryOnce}, Steps: []Step{{ID: "t", Type: StepCreateCRMTask, Title: "Call {{email}}", Value: nil}}}}
	ch, err := Canonical(hand)
	require.NoError(t, err)
	require.Equal(t, `{"entry":"once","id":"x","kind":"flow","name":"<b>&","steps":[{"id":"t","title":"Call {{email}}","type":"create_crm_task"}],"trigger":{"direction":"up","model":"m","score":0,"type":"score_threshold_crossed"}}`, string(ch))
	require.Empty(t, hand.Flow.Trigger.Direction, "Canonical does not change its argument")

	seg := decodeOne(t, `{"kind":"segment","id":"s","name":"S","rule":{"field":"n","op":"in","value":[1, 2.50, -0, "x", {"b": 1, "a": [true, null]}]}}`)
	cs, err := Canonical(seg)
	require.NoError(t, err)
	require.Equal(t, `{"id":"s","kind":"segment","name":"S","rule":{"field":"n","op":"in","value":[1,2.5,0,"x",{"a":[true,null],"b":1}]}}`, string(cs))

	_, err = Canonical(Document{})
	require.Error(t, err)
	require.Empty(t, Hash(Document{}))
}
