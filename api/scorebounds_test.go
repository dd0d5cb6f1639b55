package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Publishing refuses points and score marks the store cannot hold, with a
// 422 naming each JSON path.
func TestPublishRefusesUnrepresentableScores(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/definitions", adminKey, `{"kind": "score_model", "id": "huge", "name": "Huge",
		"engagement": [{"id": "r", "on": {"type": "email_opened"}, "points": 1e12}],
		"thresholds": [{"id": "t", "score": 20000000000, "actions": [{"id": "a", "type": "add_tag", "tag": "x"}]}]}`)
	require.Equal(t, 422, r.code, string(r.body))
	_, details := r.errBody(t)
	require.Contains(t, detailPaths(details), "engagement[0].points")
	require.Contains(t, detailPaths(details), "thresholds[0].score")
	r = e.do("GET", "/v1/definitions/huge", adminKey, nil)
	require.Equal(t, 404, r.code, "nothing was published")
}
