package e2e

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A site already using a Segment library points it at leadflow: identify,
// track and page calls (write key as Basic auth) score the shipped models.
func TestSegmentLibraryCalls(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	post := func(path, body string, key ...string) {
		req, err := http.NewRequest("POST", st.URL+path, bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		req.SetBasicAuth(append(key, ingestKey)[0], "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, path)
	}
	post("/v1/identify", `{"messageId": "m1", "userId": "sue", "traits": {"email": "sue@example.com", "role": "CMO", "employees": 30}}`)
	post("/v1/batch", `{"batch": [
	  {"type": "track", "messageId": "m2", "userId": "sue", "event": "Calendly Booked", "properties": {}},
	  {"type": "page", "messageId": "m3", "userId": "sue", "name": "Pricing", "properties": {"url": "https://example.com/pricing"}}]}`)
	// Account traits need the admin key (a server-side source); with the
	// ingest key a group call only links the contact to the account.
	post("/v1/group", `{"messageId": "m4", "userId": "sue", "groupId": "acme", "traits": {"name": "Acme"}}`, adminKey)
	c := st.eventually("sue", 10*time.Second, func(c contact) bool { return c.Scores["main"].Score == 35 })
	require.Equal(t, "sue@example.com", c.Email)
	require.Equal(t, "hot", c.Scores["main"].Band)
	require.Equal(t, 1.0, c.Scores["web-engagement"].Score)
	require.Len(t, st.tasks("sue"), 1)
	var acct struct {
		Name   string `json:"name"`
		Scores map[string]struct {
			Score float64 `json:"score"`
			Band  string  `json:"band"`
			Color string  `json:"color"`
		} `json:"scores"`
	}
	// The group call may be applied after the score reached 35 (events
	// are applied as they commit): wait for the account too.
	require.Eventually(t, func() bool {
		return st.do("GET", "/v1/accounts/acme", adminKey, nil, &acct) == 200 && acct.Name == "Acme"
	}, 10*time.Second, 50*time.Millisecond, "the account exists with its name")
	require.Equal(t, 35.0, acct.Scores["main"].Score)
	require.Equal(t, "hot", acct.Scores["main"].Band)
	require.NotEmpty(t, acct.Scores["main"].Color)
}
