package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadflow/leadflow/flows"
)

// CheckResult is the outcome of the correctness check of a run.
type CheckResult struct {
	OK              bool        `json:"ok"`
	Contacts        int         `json:"contacts"`
	Events          int         `json:"events"`
	Compared        []string    `json:"compared"`
	DifferenceCount int         `json:"difference_count"`
	Differences     []string    `json:"differences,omitempty"`
	Invariants      []Invariant `json:"invariants"`
	// CRM tasks the reference expects and PostgreSQL holds, by origin
	// ("main/mql" threshold, "flow nps").
	TasksExpected map[string]int `json:"tasks_expected"`
	TasksFound    map[string]int `json:"tasks_found"`
	// TasksOther counts tasks of time-dependent origins (not compared).
	TasksOther int `json:"tasks_other"`
	// settling: some differences may still resolve on their own (runs that
	// complete after a signal, outbox rows not dispatched yet).
	settling bool
}

// Invariant is one property every run must have.
type Invariant struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

const maxDifferences = 30

type dbContact struct {
	disqualified bool
	stage        string
	tags         []string
	scores       map[string]float64
	crossings    map[string]int
	thTasks      map[string][]int
	flowTasks    map[string]int
	waitRuns     []string
}

// checkLeadflow compares PostgreSQL with the reference's expectations for
// every contact whose id starts with prefix, and checks the invariants.
// want is the reference's outcome after replaying events.
// excluded are events the poison wrote straight into the log (to be
// quarantined): not sent, not to be applied.
func checkLeadflow(ctx context.Context, pool *pgxpool.Pool, prefix string, ref *Reference, want map[string]*Expected, events []Event, excluded []string) (CheckResult, error) {
	res := CheckResult{TasksExpected: map[string]int{}, TasksFound: map[string]int{}}
	res.Contacts, res.Events = len(want), len(events)
	res.Compared = []string{
		"scores of " + ModelMain + " and " + ModelWeb,
		"disqualified, stage, tags " + strings.Join(ref.CheckedTags(), ","),
		"threshold crossings " + strings.Join(ref.Thresholds(), ","),
		"CRM tasks of those thresholds (one per crossing) and of flows " + strings.Join(ref.ModeledFlowIDs(), ","),
		"run of " + WaitFlowID + " (waiting, or completed after an email_opened)",
	}
	got, err := loadDBContacts(ctx, pool, prefix, ref)
	if err != nil {
		return res, err
	}
	var diffs []string
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		w := want[id]
		g := got[id]
		if g == nil {
			diffs = append(diffs, fmt.Sprintf("contact %s: missing in PostgreSQL", id))
			continue
		}
		diffs = append(diffs, compareContact(id, w, g, ref)...)
		for k, v := range w.ThTasks {
			res.TasksExpected[k] += len(v)
		}
		for k, v := range w.FlowTasks {
			res.TasksExpected["flow "+k] += v
		}
	}
	for id, g := range got {
		for k, v := range g.thTasks {
			res.TasksFound[k] += len(v)
		}
		for k, v := range g.flowTasks {
			if slices.Contains(ref.ModeledFlowIDs(), k) {
				res.TasksFound["flow "+k] += v
			} else {
				res.TasksOther += v
			}
		}
		if want[id] == nil {
			diffs = append(diffs, fmt.Sprintf("contact %s: in PostgreSQL but sent no event", id))
		}
	}
	for _, d := range diffs {
		if strings.Contains(d, "runs of "+WaitFlowID) {
			res.settling = true
		}
	}
	res.DifferenceCount = len(diffs)
	if len(diffs) > maxDifferences {
		diffs = diffs[:maxDifferences]
	}
	res.Differences = diffs

	inv, err := invariants(ctx, pool, prefix, events, excluded)
	if err != nil {
		return res, err
	}
	res.Invariants = inv
	res.OK = res.DifferenceCount == 0
	for _, i := range inv {
		res.OK = res.OK && i.OK
		if !i.OK && strings.HasPrefix(i.Name, "outbox") {
			res.settling = true
		}
	}
	return res, nil
}

func compareContact(id string, w *Expected, g *dbContact, ref *Reference) []string {
	var d []string
	add := func(format string, args ...any) {
		d = append(d, fmt.Sprintf("contact %s: ", id)+fmt.Sprintf(format, args...))
	}
	for m, s := range w.Scores {
		if math.Abs(g.scores[m]-s) > 0.005 {
			add("score %s is %g, expected %g", m, g.scores[m], s)
		}
	}
	if g.disqualified != w.Disqualified {
		add("disqualified is %v, expected %v", g.disqualified, w.Disqualified)
	}
	if g.stage != w.Stage {
		add("stage is %q, expected %q", g.stage, w.Stage)
	}
	var tags []string
	for _, t := range g.tags {
		if slices.Contains(ref.CheckedTags(), t) {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	if !slices.Equal(tags, w.Tags) {
		add("tags %v, expected %v", tags, w.Tags)
	}
	for _, k := range ref.Thresholds() {
		if g.crossings[k] != w.Crossings[k] {
			add("threshold %s crossed %d times, expected %d", k, g.crossings[k], w.Crossings[k])
		}
		gt := append([]int(nil), g.thTasks[k]...)
		sort.Ints(gt)
		if !slices.Equal(gt, w.ThTasks[k]) {
			add("CRM tasks of threshold %s for crossings %v, expected %v", k, gt, w.ThTasks[k])
		}
	}
	for _, f := range ref.ModeledFlowIDs() {
		if g.flowTasks[f] != w.FlowTasks[f] {
			add("%d CRM tasks of flow %s, expected %d", g.flowTasks[f], f, w.FlowTasks[f])
		}
	}
	if len(g.waitRuns) != 1 || g.waitRuns[0] != w.WaitRun {
		add("runs of %s %v, expected [%s]", WaitFlowID, g.waitRuns, w.WaitRun)
	}
	return d
}

func loadDBContacts(ctx context.Context, pool *pgxpool.Pool, prefix string, ref *Reference) (map[string]*dbContact, error) {
	like := prefix + "%"
	out := map[string]*dbContact{}
	rows, err := pool.Query(ctx, `SELECT id, disqualified, stage, tags FROM contacts WHERE id LIKE $1`, like)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		c := &dbContact{scores: map[string]float64{}, crossings: map[string]int{}, thTasks: map[string][]int{}, flowTasks: map[string]int{}}
		if err := rows.Scan(&id, &c.disqualified, &c.stage, &c.tags); err != nil {
			rows.Close()
			return nil, err
		}
		out[id] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	get := func(id string) *dbContact {
		c := out[id]
		if c == nil {
			c = &dbContact{scores: map[string]float64{}, crossings: map[string]int{}, thTasks: map[string][]int{}, flowTasks: map[string]int{}}
			out[id] = c
		}
		return c
	}
	scan := func(sql string, fn func(rows interface{ Scan(...any) error }) error, args ...any) error {
		rows, err := pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	models := []string{ModelMain, ModelWeb}
	if err := scan(`SELECT contact_id, model, score::float8 FROM scores WHERE contact_id LIKE $1 AND model = ANY($2)`, func(r interface{ Scan(...any) error }) error {
		var id, m string
		var s float64
		if err := r.Scan(&id, &m, &s); err != nil {
			return err
		}
		get(id).scores[m] = s
		return nil
	}, like, models); err != nil {
		return nil, err
	}
	if err := scan(`SELECT contact_id, model || '/' || threshold_id, crossings FROM threshold_states WHERE contact_id LIKE $1`, func(r interface{ Scan(...any) error }) error {
		var id, k string
		var n int
		if err := r.Scan(&id, &k, &n); err != nil {
			return err
		}
		get(id).crossings[k] = n
		return nil
	}, like); err != nil {
		return nil, err
	}
	if err := scan(`SELECT contact_id, model, threshold_id, crossing, flow_id FROM crm_tasks WHERE contact_id LIKE $1`, func(r interface{ Scan(...any) error }) error {
		var id, m, th, f string
		var n int
		if err := r.Scan(&id, &m, &th, &n, &f); err != nil {
			return err
		}
		c := get(id)
		if th != "" {
			c.thTasks[m+"/"+th] = append(c.thTasks[m+"/"+th], n)
		} else {
			c.flowTasks[f]++
		}
		return nil
	}, like); err != nil {
		return nil, err
	}
	if err := scan(`SELECT contact_id, status FROM flow_runs WHERE contact_id LIKE $1 AND flow_id = $2 ORDER BY id`, func(r interface{ Scan(...any) error }) error {
		var id, st string
		if err := r.Scan(&id, &st); err != nil {
			return err
		}
		c := get(id)
		c.waitRuns = append(c.waitRuns, st)
		return nil
	}, like, WaitFlowID); err != nil {
		return nil, err
	}
	return out, nil
}

// invariants checks what must hold whatever the definitions: every event
// sent is in the log once and applied (but the excluded ones, written
// straight into the log by the poison); no event gave a rule's points
// twice; the ledger sums to the scores for every model (decaying ones
// included); no threshold crossing has two tasks; nothing is left in the
// outbox.
func invariants(ctx context.Context, pool *pgxpool.Pool, prefix string, sent []Event, excluded []string) ([]Invariant, error) {
	like := prefix + "%"
	var out []Invariant
	ids := make([]string, len(sent))
	for i, e := range sent {
		ids[i] = e.ID
	}
	var total, applied, known int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(applied_at), count(*) FILTER (WHERE id = ANY($2))
		FROM events WHERE contact_id LIKE $1 AND NOT (id = ANY($3))`, like, ids, excluded).Scan(&total, &applied, &known); err != nil {
		return nil, err
	}
	out = append(out, Invariant{Name: "every event sent is in the log exactly once",
		OK: total == len(ids) && known == len(ids), Detail: fmt.Sprintf("%d unique ids sent, %d events in the log, %d of them sent", len(ids), total, known)})
	out = append(out, Invariant{Name: "every event is applied", OK: applied == total, Detail: fmt.Sprintf("%d of %d applied", applied, total)})

	var bad int
	var example string
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(min(contact_id || ' ' || model || '/' || rule_id || ' event ' || event_id || ': ' || n || ' times'), '') FROM (
		SELECT contact_id, model, rule_id, event_id, count(*) AS n FROM score_ledger
		WHERE contact_id LIKE $1 AND kind = 'engagement' AND event_id <> '' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d`, like).Scan(&bad, &example); err != nil {
		return nil, err
	}
	out = append(out, Invariant{Name: "no event scored twice by one rule (ledger)", OK: bad == 0, Detail: detailOr(bad, example)})

	if err := pool.QueryRow(ctx, `WITH l AS (SELECT contact_id, model, sum(points) AS pts FROM score_ledger WHERE contact_id LIKE $1 GROUP BY 1, 2),
		s AS (SELECT contact_id, model, score FROM scores WHERE contact_id LIKE $1),
		d AS (SELECT coalesce(s.contact_id, l.contact_id) AS c, coalesce(s.model, l.model) AS m, coalesce(s.score, 0) AS score, coalesce(l.pts, 0) AS pts
			FROM s FULL JOIN l ON l.contact_id = s.contact_id AND l.model = s.model WHERE coalesce(s.score, 0) <> coalesce(l.pts, 0))
		SELECT count(*), coalesce(min(c || ' ' || m || ': score ' || score || ', ledger ' || pts), '') FROM d`, like).Scan(&bad, &example); err != nil {
		return nil, err
	}
	out = append(out, Invariant{Name: "ledger entries sum to the score, every contact and model", OK: bad == 0, Detail: detailOr(bad, example)})

	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(min(contact_id || ' ' || model || '/' || threshold_id || ' crossing ' || crossing), '') FROM (
		SELECT contact_id, model, threshold_id, crossing FROM crm_tasks WHERE contact_id LIKE $1 AND threshold_id <> ''
		GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d`, like).Scan(&bad, &example); err != nil {
		return nil, err
	}
	out = append(out, Invariant{Name: "one CRM task per threshold crossing", OK: bad == 0, Detail: detailOr(bad, example)})

	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE dispatched_at IS NULL`).Scan(&bad); err != nil {
		return nil, err
	}
	out = append(out, Invariant{Name: "outbox fully dispatched to Temporal", OK: bad == 0, Detail: fmt.Sprintf("%d undispatched", bad)})
	return out, nil
}

func detailOr(n int, example string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d violations, e.g. %s", n, example)
}

// BaselineCheck is the correctness check of a baseline's tables.
type BaselineCheck struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// checkBaseline verifies a baseline applied each event once and its scores
// are the sums of the points of the events it applied (and its ledger).
func checkBaseline(ctx context.Context, pool *pgxpool.Pool, system string, sent []BaselineEvent, sc *scorer) (BaselineCheck, error) {
	t, err := tableOf(system)
	if err != nil {
		return BaselineCheck{}, err
	}
	want := map[string]float64{}
	for _, e := range sent {
		want[e.ContactID] = flows.RoundPoints(want[e.ContactID] + sc.points(e.Type, e.Properties))
	}
	var events, ledger int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+t+`_events), (SELECT count(*) FROM `+t+`_ledger)`).Scan(&events, &ledger); err != nil {
		return BaselineCheck{}, err
	}
	rows, err := pool.Query(ctx, `SELECT s.contact_id, s.score::float8, coalesce((SELECT sum(points) FROM `+t+`_ledger l WHERE l.contact_id = s.contact_id), 0)::float8
		FROM `+t+`_scores s`)
	if err != nil {
		return BaselineCheck{}, err
	}
	defer rows.Close()
	bad := 0
	example := ""
	seen := 0
	for rows.Next() {
		var id string
		var score, sum float64
		if err := rows.Scan(&id, &score, &sum); err != nil {
			return BaselineCheck{}, err
		}
		seen++
		if math.Abs(score-want[id]) > 0.005 || math.Abs(score-sum) > 0.005 {
			bad++
			if example == "" {
				example = fmt.Sprintf("%s: score %g, ledger %g, expected %g", id, score, sum, want[id])
			}
		}
	}
	if err := rows.Err(); err != nil {
		return BaselineCheck{}, err
	}
	ok := events == len(sent) && ledger == len(sent) && bad == 0 && seen == len(want)
	return BaselineCheck{OK: ok, Detail: fmt.Sprintf("%d events sent, %d applied, %d ledger rows, %d of %d contacts wrong %s",
		len(sent), events, ledger, bad, len(want), example)}, nil
}

// checkFaults adds the fault run's own checks to the verdict: what became
// of the poison events, and the partitions' stalls.
func (r *runner) checkFaults(ctx context.Context) error {
	if r.poison != nil {
		if err := r.poison.check(ctx); err != nil {
			return err
		}
		p := r.poison.res
		r.res.Poison = p
		if !p.OK && r.res.Passed {
			r.res.Passed = false
			r.res.FailReason = "poison events: " + strings.Join(p.Failures, "; ")
		}
	}
	if s := r.res.Stalls; s != nil && !s.OK && r.res.Passed {
		r.res.Passed = false
		r.res.FailReason = fmt.Sprintf("partition %d applied nothing for %.1fs with events pending, outside the fault windows (limit %.0fs)",
			s.LongestOutside.Partition, s.LongestOutside.Seconds, s.LimitSeconds)
	}
	return nil
}
