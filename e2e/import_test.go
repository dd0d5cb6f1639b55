package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// importResult is the answer of POST /v1/contacts/import.
type importResult struct {
	Rows       int `json:"rows"`
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

func (st *stack) importBody(query, contentType, body string) (importResult, int) {
	st.t.Helper()
	req, err := http.NewRequest("POST", st.URL+"/v1/contacts/import"+query, strings.NewReader(body))
	require.NoError(st.t, err)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	var out importResult
	resp, err := http.DefaultClient.Do(req)
	require.NoError(st.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(st.t, err)
	if resp.StatusCode == 200 {
		require.NoError(st.t, json.Unmarshal(raw, &out), "body: %s", raw)
	}
	return out, resp.StatusCode
}

// getCSV GETs path with Accept: text/csv and parses the answer.
func (st *stack) getCSV(path string) [][]string {
	st.t.Helper()
	req, err := http.NewRequest("GET", st.URL+path, nil)
	require.NoError(st.t, err)
	req.Header.Set("Accept", "text/csv")
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(st.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(st.t, err)
	require.Equal(st.t, 200, resp.StatusCode, "%s: %s", path, raw)
	require.True(st.t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv"), resp.Header.Get("Content-Type"))
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	require.NoError(st.t, err, "%s", raw)
	return recs
}

const importDefs = `[
{"kind": "score_model", "id": "main", "name": "Main",
 "bands": [{"name": "cold", "min": -1000, "color": "blue"}, {"name": "hot", "min": 20, "color": "red"}],
 "profile": [
   {"id": "vp", "when": {"field": "title", "op": "contains", "value": "VP"}, "points": 15},
   {"id": "big", "when": {"field": "employees", "op": "gte", "value": 100}, "points": 10}],
 "engagement": [{"id": "p", "on": {"type": "page_visited"}, "points": 1}]},
{"kind": "flow", "id": "welcome", "name": "Welcome", "trigger": {"type": "event", "event": "contact_created"}, "entry": "once",
 "steps": [{"id": "tag", "type": "add_tag", "tag": "welcomed"}]}]`

// A CSV with good and bad rows, imported twice: the good rows become
// contacts (scored by the profile rules, typed numbers included, and
// started in the contact_created flow as if created one by one), the bad
// ones are rejected with their line and reason, and the second import adds
// nothing. Then the CSV exports of /v1/leads and /v1/contacts, filtered.
func TestImportCSVTwiceAndExport(t *testing.T) {
	st := newStack(t, stackOptions{})
	st.publish([]byte(importDefs))

	file := "id,email,Company,title,employees,tags,notes\n" +
		"ann,ann@example.com,acme,VP Sales,500,vip;beta,\"multi\nline note\"\n" + // lines 2-3
		"bob,bob@example.com,acme,VP Engineering,20,beta,\n" + // line 4
		",not-an-email,x,,,,\n" + // line 5: bad email, no id
		"carl,carl@example.com,globex,VP Ops,many,,\n" + // line 6: employees not a number
		"dora\x00,dora@example.com,,,,,\n" + // line 7: NUL in the id
		",cleo@Example.com,initech,Head,5,x|y,\n" + // line 8: id from the email
		"eve,eve@example.com,acme\n" // line 9: too few columns
	q := "?map=Company=account_id&types=employees=number"
	first, code := st.importBody(q, "text/csv", file)
	require.Equal(t, 200, code)
	require.Equal(t, 7, first.Rows)
	require.Equal(t, 3, first.Accepted, "%+v", first)
	require.Equal(t, 0, first.Duplicates)
	lines := map[int]string{}
	for _, r := range first.Rejected {
		lines[r.Line] = r.Reason
	}
	require.Len(t, lines, 4, "%+v", first.Rejected)
	require.Contains(t, lines[5], "not a valid email address")
	require.Contains(t, lines[6], "employees")
	require.Contains(t, lines[6], "not a number")
	require.Contains(t, lines[7], "NUL")
	require.Contains(t, lines[9], "has 3 columns; the header has 7")

	again, code := st.importBody(q, "text/csv", file)
	require.Equal(t, 200, code)
	require.Equal(t, 0, again.Accepted, "a second import adds nothing")
	require.Equal(t, 3, again.Duplicates)
	require.Len(t, again.Rejected, 4)

	ann := st.eventually("ann", 20*time.Second, func(c contact) bool {
		return c.Scores["main"].Score == 25 && slices.Contains(c.Tags, "welcomed")
	})
	require.Equal(t, "ann@example.com", ann.Email)
	require.ElementsMatch(t, []string{"vip", "beta", "welcomed"}, ann.Tags)
	require.Equal(t, "multi\nline note", ann.Fields["notes"])
	require.EqualValues(t, 500, ann.Fields["employees"])
	require.Equal(t, "hot", ann.Scores["main"].Band)
	st.eventually("bob", 20*time.Second, func(c contact) bool {
		return c.Scores["main"].Score == 15 && slices.Contains(c.Tags, "welcomed")
	})
	cleo := st.eventually("cleo@example.com", 20*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "welcomed") })
	require.ElementsMatch(t, []string{"x", "y", "welcomed"}, cleo.Tags)
	st.settled()
	// one contact_created run each, not two: the second import doubled nothing
	var runs int
	require.NoError(t, st.Store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM flow_runs WHERE flow_id = 'welcome'`).Scan(&runs))
	require.Equal(t, 3, runs)
	var events int
	require.NoError(t, st.Store.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE id LIKE 'import:%'`).Scan(&events))
	require.Equal(t, 3, events)

	// NDJSON: the same checks, numbers kept as sent, line numbers per line.
	nd := `{"id": "fay", "email": "fay@example.com", "title": "VP", "employees": 150, "tags": ["a"]}` + "\n" +
		`{"email": "bad"}` + "\n\n" +
		`not json` + "\n"
	res, code := st.importBody("", "application/x-ndjson", nd)
	require.Equal(t, 200, code)
	require.Equal(t, 1, res.Accepted)
	require.Len(t, res.Rejected, 2)
	require.Equal(t, 2, res.Rejected[0].Line)
	require.Equal(t, 4, res.Rejected[1].Line)
	st.eventually("fay", 20*time.Second, func(c contact) bool { return c.Scores["main"].Score == 25 })

	// Leads export: CSV, the same filters as the JSON list.
	hot := st.getCSV("/v1/leads?band=hot")
	require.Equal(t, []string{"contact_id", "email", "score", "band", "band_color", "stage", "owner", "disqualified", "account_id", "score_updated_at", "last_activity"}, hot[0])
	require.Len(t, hot, 3, "%v", hot)
	require.Equal(t, "ann", hot[1][0])
	require.Equal(t, "25", hot[1][2])
	require.NotEmpty(t, hot[1][4], "the band's colour")
	require.Equal(t, "acme", hot[1][8])
	require.Equal(t, "fay", hot[2][0])
	all := st.getCSV("/v1/leads")
	require.Len(t, all, 4) // header + ann, fay, bob (cleo has no score)
	require.Equal(t, "bob", all[3][0])
	require.Equal(t, "cold", all[3][3])
	limited := st.getCSV("/v1/leads?limit=1")
	require.Len(t, limited, 2)

	// Contacts: JSON pages and CSV with filters.
	var page struct {
		Contacts []struct {
			ContactID string `json:"contact_id"`
		} `json:"contacts"`
		NextCursor string `json:"next_cursor"`
	}
	require.Equal(t, 200, st.do("GET", "/v1/contacts?limit=2", adminKey, nil, &page))
	require.Len(t, page.Contacts, 2)
	require.Equal(t, "ann", page.Contacts[0].ContactID)
	require.NotEmpty(t, page.NextCursor)
	require.Equal(t, 200, st.do("GET", "/v1/contacts?limit=2&cursor="+page.NextCursor, adminKey, nil, &page))
	require.Equal(t, "cleo@example.com", page.Contacts[0].ContactID)

	acme := st.getCSV("/v1/contacts?account_id=acme")
	require.Equal(t, []string{"contact_id", "email", "account_id", "stage", "disqualified", "tags", "score", "band", "band_color", "fields", "created_at", "updated_at"}, acme[0])
	require.Len(t, acme, 3, "%v", acme)
	require.Equal(t, "ann", acme[1][0])
	require.Equal(t, "bob", acme[2][0])
	beta := st.getCSV("/v1/contacts?tag=vip")
	require.Len(t, beta, 2)
	require.Equal(t, "ann", beta[1][0])
	require.Contains(t, beta[1][5], "vip")
	require.Contains(t, beta[1][9], `"title":"VP Sales"`)
}
