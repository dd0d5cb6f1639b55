package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
)

type leadsPage struct {
	Model string `json:"model"`
	Bands []struct {
		Name  string `json:"name"`
		Color string `json:"color"`
	} `json:"bands"`
	Leads []struct {
		ContactID string  `json:"contact_id"`
		Score     float64 `json:"score"`
		Band      string  `json:"band"`
		BandColor string  `json:"band_color"`
		Owner     string  `json:"owner"`
		Stage     string  `json:"stage"`
	} `json:"leads"`
	NextCursor string `json:"next_cursor"`
}

func (e *env) leads(query string) leadsPage {
	e.t.Helper()
	r := e.do("GET", "/v1/leads"+query, adminKey, nil)
	require.Equal(e.t, 200, r.code, string(r.body))
	var p leadsPage
	require.NoError(e.t, json.Unmarshal(r.body, &p))
	return p
}

func TestLeadsFiltersAndCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/definitions", adminKey, "["+modelDoc+","+segmentDoc+"]")
	require.Equal(t, 201, r.code, string(r.body))
	// 7 contacts; c3 and c4 tie.
	scores := []float64{50, 40, 30.5, 30.5, 10, 5, 0}
	for i, sc := range scores {
		id := fmt.Sprintf("c%d", i)
		e.addContact(id, fmt.Sprintf("%s@Example.com", id))
		band := "cold"
		if sc >= 30 {
			band = "hot"
		}
		e.addScore(id, "main", sc, band)
	}
	e.exec(`UPDATE contacts SET fields = '{"owner": "olga"}', stage = 'sql' WHERE id IN ('c1', 'c3')`)

	// Pages of 2 walk the whole list in order, ties by id, once each.
	var seen []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := e.leads(q)
		for _, l := range p.Leads {
			seen = append(seen, l.ContactID)
		}
		cursor = p.NextCursor
		if cursor == "" {
			break
		}
	}
	require.Equal(t, []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6"}, seen)

	p := e.leads("?band=hot")
	require.Len(t, p.Leads, 4)
	require.Equal(t, "#ef4444", p.Leads[0].BandColor, "the band's colour from the published model")
	require.Equal(t, []string{"cold", "hot"}, []string{p.Bands[0].Name, p.Bands[1].Name})

	p = e.leads("?owner=olga")
	require.Len(t, p.Leads, 2)
	require.Equal(t, "olga", p.Leads[0].Owner)
	require.Equal(t, "sql", p.Leads[0].Stage)
	require.Len(t, e.leads("?stage=sql&owner=olga&band=hot").Leads, 2)
	require.Len(t, e.leads("?stage=mql").Leads, 0)

	// Search: by id, or by email prefix (case-insensitive); LIKE
	// wildcards are plain characters.
	require.Equal(t, "c5", e.leads("?q=c5").Leads[0].ContactID)
	require.Equal(t, "c2", e.leads("?q=C2%40example").Leads[0].ContactID)
	require.Len(t, e.leads("?q=%25").Leads, 0)
	require.Len(t, e.leads("?q=c_").Leads, 0)

	r = e.do("GET", "/v1/leads?cursor=garbage", adminKey, nil)
	require.Equal(t, 400, r.code)
	_, details := r.errBody(t)
	require.Equal(t, []string{"cursor"}, detailPaths(details))
}

func TestContactTimeline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addContact("ada", "ada@example.com")
	// e1 applied, e2 pending, e3 another contact's.
	e.exec(`INSERT INTO events (id, contact_id, partition, type, properties, occurred_at, applied_at) VALUES
		('e1', 'ada', $1, 'page_visited', '{"url": "/pricing"}', now() - interval '1 hour', now()),
		('e2', 'ada', $1, 'email_clicked', '{}', now(), NULL),
		('e3', 'bob', $1, 'email_clicked', '{}', now(), now())`, store.PartitionOf("ada"))
	e.exec(`INSERT INTO segment_memberships (contact_id, segment_id, entered_at) VALUES ('ada', 'mql', now())`)
	e.exec(`INSERT INTO segment_history (contact_id, segment_id, change, event_id, at) VALUES ('ada', 'mql', 'entered', 'e2', now())`)
	e.exec(`INSERT INTO flow_runs (id, flow_id, flow_version, contact_id, status, step_id, wait_kind, wait_event, wait_until, started_at, updated_at)
		VALUES ('f:ada:1', 'f', 2, 'ada', 'waiting', 'quiet', 'event', 'email_opened', now() + interval '60 days', now(), now())`)

	r := e.do("GET", "/v1/contacts/ada/timeline", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var tl struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
		Segments []struct {
			SegmentID string `json:"segment_id"`
		} `json:"segments"`
		SegmentHistory []map[string]any `json:"segment_history"`
		FlowRuns       []struct {
			StepID    string  `json:"step_id"`
			WaitEvent string  `json:"wait_event"`
			WaitUntil *string `json:"wait_until"`
		} `json:"flow_runs"`
	}
	require.NoError(t, json.Unmarshal(r.body, &tl))
	require.Equal(t, "e2", tl.Events[0].ID, "newest first")
	require.Len(t, tl.Events, 2)
	require.Equal(t, "mql", tl.Segments[0].SegmentID)
	require.Len(t, tl.SegmentHistory, 1)
	require.Equal(t, "quiet", tl.FlowRuns[0].StepID)
	require.Equal(t, "email_opened", tl.FlowRuns[0].WaitEvent)
	require.NotNil(t, tl.FlowRuns[0].WaitUntil)

	require.Equal(t, 404, e.do("GET", "/v1/contacts/nobody/timeline", adminKey, nil).code)
}

func TestDefinitionStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/definitions", adminKey, "["+modelDoc+","+segmentDoc+","+flowDoc+"]")
	require.Equal(t, 201, r.code, string(r.body))
	for i, st := range []string{"waiting", "waiting", "completed", "exited"} {
		e.exec(`INSERT INTO flow_runs (id, flow_id, flow_version, contact_id, status, step_id, started_at, updated_at)
			VALUES ($1, 'tag-mql', 1, $2, $3, 'tag', now(), now())`, fmt.Sprintf("r%d", i), fmt.Sprintf("c%d", i), st)
	}
	r = e.do("GET", "/v1/definitions/tag-mql/stats", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var out struct {
		Steps []map[string]any `json:"steps"`
		Total map[string]any   `json:"total"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Len(t, out.Steps, 1)
	require.Equal(t, "tag", out.Steps[0]["step_id"])
	require.EqualValues(t, 2, out.Steps[0]["waiting"])
	require.EqualValues(t, 1, out.Steps[0]["completed"])
	require.EqualValues(t, 1, out.Total["exited"])

	require.Equal(t, 422, e.do("GET", "/v1/definitions/main/stats", adminKey, nil).code)
	require.Equal(t, 404, e.do("GET", "/v1/definitions/nope/stats", adminKey, nil).code)
}

func TestValidateOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.count(`SELECT count(*) FROM definition_versions`)
	bad := `{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "email_clicked"}, "entry": "once",
		"steps": [{"id": "a", "type": "add_tag", "tag": "x", "next": "missing"}]}`
	r := e.do("POST", "/v1/validate", adminKey, bad)
	require.Equal(t, 200, r.code, string(r.body))
	var v struct {
		Valid  bool                `json:"valid"`
		Errors []map[string]string `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.False(t, v.Valid)
	require.Equal(t, "steps[0].next", v.Errors[0]["path"], "%v", v.Errors)
	// The same errors publishing answers.
	pub := e.do("POST", "/v1/definitions", adminKey, bad)
	require.Equal(t, 422, pub.code)
	_, details := pub.errBody(t)
	require.Equal(t, details, v.Errors)
	require.Equal(t, before, e.count(`SELECT count(*) FROM definition_versions`), "nothing published")

	r = e.do("POST", "/v1/validate", adminKey, "["+modelDoc+","+segmentDoc+"]")
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.True(t, v.Valid, "%v", v.Errors)
	require.Equal(t, before, e.count(`SELECT count(*) FROM definition_versions`), "nothing published")

	s := e.do("GET", "/v1/schema", adminKey, nil)
	require.Equal(t, 200, s.code)
	require.Contains(t, string(s.body), `"$schema"`)
}

func TestTasksFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.addContact("ada", "ada@example.com")
	for i, row := range [][2]string{{"olga", "failed"}, {"sam", "delivered"}, {"olga", "delivered"}} {
		e.exec(`INSERT INTO crm_tasks (contact_id, title, assignee, reason, idem_key, delivery_status, created_at)
			VALUES ('ada', $1, $2, 'test', $1, $3, now() + make_interval(secs => $4))`, fmt.Sprintf("t%d", i), row[0], row[1], i)
	}
	titles := func(q string) []string {
		r := e.do("GET", "/v1/tasks"+q, adminKey, nil)
		require.Equal(t, 200, r.code, string(r.body))
		var out struct {
			Tasks []struct {
				Title string `json:"title"`
			} `json:"tasks"`
		}
		require.NoError(t, json.Unmarshal(r.body, &out))
		var ts []string
		for _, x := range out.Tasks {
			ts = append(ts, x.Title)
		}
		return ts
	}
	require.Equal(t, []string{"t2", "t1", "t0"}, titles(""), "newest first")
	require.Equal(t, []string{"t2", "t0"}, titles("?assignee=olga"))
	require.Equal(t, []string{"t2", "t1"}, titles("?status=delivered"))
	require.Equal(t, []string{"t0"}, titles("?assignee=olga&status=failed"))
	r := e.do("GET", "/v1/tasks?status=lost", adminKey, nil)
	require.Equal(t, 400, r.code)
	_, details := r.errBody(t)
	require.Equal(t, []string{"status"}, detailPaths(details))
}

func TestSegmentsAndAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rollup := strings.Replace(modelDoc, `"name": "Main score",`, `"name": "Main score", "account_rollup": "sum",`, 1)
	r := e.do("POST", "/v1/definitions", adminKey, "["+rollup+","+segmentDoc+"]")
	require.Equal(t, 201, r.code, string(r.body))
	// e.now is 2025-03-01 12:00 UTC. Two days ago a and b entered, b left
	// yesterday, c entered today.
	for _, id := range []string{"a", "b", "c"} {
		e.addContact(id, id+"@x.io", "acme")
	}
	e.exec(`INSERT INTO segment_memberships (contact_id, segment_id, entered_at) VALUES ('a', 'mql', '2025-02-27T10:00:00Z'), ('c', 'mql', '2025-03-01T09:00:00Z')`)
	e.exec(`INSERT INTO segment_history (contact_id, segment_id, change, at) VALUES
		('a', 'mql', 'entered', '2025-02-27T10:00:00Z'), ('b', 'mql', 'entered', '2025-02-27T11:00:00Z'),
		('b', 'mql', 'exited', '2025-02-28T10:00:00Z'), ('c', 'mql', 'entered', '2025-03-01T09:00:00Z')`)
	r = e.do("GET", "/v1/segments", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var list struct {
		Segments []segmentSummary `json:"segments"`
	}
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Equal(t, []segmentSummary{{ID: "mql", Name: "MQL", Status: "published", Members: 2, EnteredToday: 1, ExitedToday: 0}}, list.Segments)

	r = e.do("GET", "/v1/segments/mql/history?days=4", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var hist struct {
		Members int64 `json:"members"`
		Days    []struct {
			Day     string `json:"day"`
			Entered int64  `json:"entered"`
			Exited  int64  `json:"exited"`
			Members int64  `json:"members"`
		} `json:"days"`
	}
	require.NoError(t, json.Unmarshal(r.body, &hist))
	require.Len(t, hist.Days, 4)
	var got []string
	for _, d := range hist.Days {
		got = append(got, fmt.Sprintf("%s +%d -%d =%d", d.Day, d.Entered, d.Exited, d.Members))
	}
	require.Equal(t, []string{"2025-02-26 +0 -0 =0", "2025-02-27 +2 -0 =2", "2025-02-28 +0 -1 =1", "2025-03-01 +1 -0 =2"}, got)
	require.Equal(t, 404, e.do("GET", "/v1/segments/main/history", adminKey, nil).code, "a score model is not a segment")

	e.addScore("a", "main", 10, "cold")
	e.addScore("b", "main", 32.5, "hot")
	e.addContact("z", "z@x.io", "zeta")
	r = e.do("GET", "/v1/accounts", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var accs struct {
		Accounts []struct {
			AccountID string  `json:"account_id"`
			Contacts  int64   `json:"contacts"`
			Score     float64 `json:"score"`
			Band      string  `json:"band"`
			Color     string  `json:"color"`
		} `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal(r.body, &accs))
	require.Len(t, accs.Accounts, 2)
	require.Equal(t, "acme", accs.Accounts[0].AccountID)
	require.Equal(t, 42.5, accs.Accounts[0].Score)
	require.EqualValues(t, 3, accs.Accounts[0].Contacts)
	require.Equal(t, "zeta", accs.Accounts[1].AccountID)
	require.Equal(t, "hot", accs.Accounts[0].Band)
	require.Equal(t, "#ef4444", accs.Accounts[0].Color)

	// Only a model that rolls up to accounts has account scores.
	e.do("POST", "/v1/definitions", adminKey, `{"kind": "score_model", "id": "nps", "name": "NPS",
		"engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}]}`)
	r = e.do("GET", "/v1/accounts?model=nps", adminKey, nil)
	require.Equal(t, 400, r.code, string(r.body))
	_, details := r.errBody(t)
	require.Equal(t, `score model "nps" does not roll up to accounts (it has no "account_rollup": "sum"); the models that do are main`, details[0]["message"])
	require.Equal(t, 400, e.do("GET", "/v1/accounts?model=ghost", adminKey, nil).code)
}

type segmentSummary struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	Members      int64  `json:"members"`
	EnteredToday int64  `json:"entered_today"`
	ExitedToday  int64  `json:"exited_today"`
}
