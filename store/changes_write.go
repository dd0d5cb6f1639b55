package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contract"
)

// Write sends every change inside tx in one pipelined round trip. Rows of a
// kind go in one statement each (arrays unnested), not one statement per
// row: the apply path's cost is dominated by these writes.
func (c *Changes) Write(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	c.queueContacts(b)
	c.queueAccounts(b)
	c.queueScores(b)
	c.queueThresholds(b)
	c.queueEntries(b)
	c.queueSegments(b)
	c.queueRuns(b)
	c.queueLedger(b)
	c.queueConversions(b)
	if len(c.ExpiredLedger) > 0 {
		b.Queue(`UPDATE score_ledger SET expired = true WHERE id = ANY($1)`, c.ExpiredLedger)
	}
	if len(c.AppliedEvents) > 0 {
		b.Queue(`UPDATE events SET applied_at = $2 WHERE seq = ANY($1)`, c.AppliedEvents, c.AppliedAt)
	}
	c.queueTasks(b)
	c.queueOutbox(b)
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("error writing changes: %w", err)
	}
	return nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %T: %v", v, err)) // only JSON-decoded values get here
	}
	return string(b)
}

func (c *Changes) queueContacts(b *pgx.Batch) {
	if len(c.Contacts) == 0 {
		return
	}
	var ids, emails, fields, tags, accounts, stages, reasons []string
	var dq []bool
	var parts []int32
	var due []*time.Time
	accountSet := map[string]bool{}
	for _, st := range sortedStates(c.Contacts) {
		ct := st.Contact
		t := ct.Tags
		if t == nil {
			t = []string{}
		}
		ids = append(ids, ct.ID)
		emails = append(emails, ct.Email)
		fields = append(fields, jsonText(ct.Fields))
		tags = append(tags, jsonText(t))
		accounts = append(accounts, ct.AccountID)
		stages = append(stages, ct.Stage)
		dq = append(dq, ct.Disqualified)
		reasons = append(reasons, ct.DisqualifiedReason)
		parts = append(parts, int32(ct.Partition))
		due = append(due, ct.NextDueAt)
		if ct.AccountID != "" {
			accountSet[ct.AccountID] = true
		}
	}
	if len(accountSet) > 0 {
		b.Queue(`INSERT INTO accounts (id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, sortedKeys(accountSet))
	}
	b.Queue(`INSERT INTO contacts (id, email, fields, tags, account_id, stage, disqualified, disqualified_reason, partition, next_due_at, created_at, updated_at)
		SELECT u.id, u.email, u.fields::jsonb, ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), nullif(u.account_id, ''),
			u.stage, u.dq, u.reason, u.part, u.due, $11, $11
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::text[], $9::int[], $10::timestamptz[])
			AS u(id, email, fields, tags, account_id, stage, dq, reason, part, due)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, fields = excluded.fields, tags = excluded.tags,
			account_id = excluded.account_id, stage = excluded.stage, disqualified = excluded.disqualified,
			disqualified_reason = excluded.disqualified_reason, next_due_at = excluded.next_due_at, updated_at = excluded.updated_at`,
		ids, emails, fields, tags, accounts, stages, dq, reasons, parts, due, c.AppliedAt)
}

func (c *Changes) queueAccounts(b *pgx.Batch) {
	for _, id := range sortedKeys(c.AccountTraits) {
		traits := c.AccountTraits[id]
		name, _ := traits["name"].(string)
		b.Queue(`INSERT INTO accounts (id, name, fields, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET name = CASE WHEN $2 = '' THEN accounts.name ELSE $2 END,
			fields = accounts.fields || $3, updated_at = $4`, id, name, traits, c.AppliedAt)
	}
}

func (c *Changes) queueScores(b *pgx.Batch) {
	var contacts, models, bands, rules []string
	var score, profile, engagement []float64
	var asOf []time.Time
	for _, id := range sortedKeys(c.ScoresTouched) {
		st := c.Contacts[id]
		for _, m := range sortedKeys(c.ScoresTouched[id]) {
			s := st.Scores[m]
			contacts = append(contacts, id)
			models = append(models, m)
			score = append(score, s.Score)
			profile = append(profile, s.Profile)
			engagement = append(engagement, s.Engagement)
			asOf = append(asOf, s.EngagementAsOf)
			bands = append(bands, s.Band)
			rules = append(rules, jsonText(s.ProfileRules))
		}
	}
	if len(contacts) == 0 {
		return
	}
	b.Queue(`INSERT INTO scores (contact_id, model, score, profile, engagement, engagement_as_of, band, profile_rules, updated_at)
		SELECT u.c, u.m, u.s, u.p, u.e, u.a, u.b, u.r::jsonb, $9
		FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::timestamptz[], $7::text[], $8::text[]) AS u(c, m, s, p, e, a, b, r)
		ON CONFLICT (contact_id, model) DO UPDATE SET score = excluded.score, profile = excluded.profile, engagement = excluded.engagement,
			engagement_as_of = excluded.engagement_as_of, band = excluded.band, profile_rules = excluded.profile_rules, updated_at = excluded.updated_at`,
		contacts, models, score, profile, engagement, asOf, bands, rules, c.AppliedAt)
}

func (c *Changes) queueThresholds(b *pgx.Batch) {
	var contacts, models, ths []string
	var armed []bool
	var crossings []int32
	for _, id := range sortedKeys(c.ThreshTouched) {
		st := c.Contacts[id]
		for _, key := range sortedKeys(c.ThreshTouched[id]) {
			t := st.Thresholds[key]
			contacts = append(contacts, id)
			models = append(models, t.Model)
			ths = append(ths, t.ThresholdID)
			armed = append(armed, t.Armed)
			crossings = append(crossings, int32(t.Crossings))
		}
	}
	if len(contacts) == 0 {
		return
	}
	b.Queue(`INSERT INTO threshold_states (contact_id, model, threshold_id, armed, crossings)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::int[])
		ON CONFLICT (contact_id, model, threshold_id) DO UPDATE SET armed = excluded.armed, crossings = excluded.crossings`,
		contacts, models, ths, armed, crossings)
}

func (c *Changes) queueEntries(b *pgx.Batch) {
	var flows, contacts []string
	var entries []int32
	var last []time.Time
	for _, id := range sortedKeys(c.EntriesTouched) {
		st := c.Contacts[id]
		for _, f := range sortedKeys(c.EntriesTouched[id]) {
			e := st.Entries[f]
			flows = append(flows, f)
			contacts = append(contacts, id)
			entries = append(entries, int32(e.Entries))
			last = append(last, e.LastEnteredAt)
		}
	}
	if len(flows) == 0 {
		return
	}
	b.Queue(`INSERT INTO flow_entries (flow_id, contact_id, entries, last_entered_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[])
		ON CONFLICT (flow_id, contact_id) DO UPDATE SET entries = excluded.entries, last_entered_at = excluded.last_entered_at`,
		flows, contacts, entries, last)
}

// queueSegments writes the final membership of each changed (contact,
// segment) and every change, in order, to the history.
func (c *Changes) queueSegments(b *pgx.Batch) {
	if len(c.Segments) == 0 {
		return
	}
	type key struct{ contact, segment string }
	final := map[key]SegmentChange{}
	var order []key
	var hContacts, hSegments, hChanges, hEvents []string
	var hAt []time.Time
	for _, s := range c.Segments {
		k := key{s.ContactID, s.SegmentID}
		if _, ok := final[k]; !ok {
			order = append(order, k)
		}
		final[k] = s
		change := "exited"
		if s.Entered {
			change = "entered"
		}
		hContacts = append(hContacts, s.ContactID)
		hSegments = append(hSegments, s.SegmentID)
		hChanges = append(hChanges, change)
		hEvents = append(hEvents, s.EventID)
		hAt = append(hAt, s.At)
	}
	var inC, inS, outC, outS []string
	var inAt []time.Time
	for _, k := range order {
		s := final[k]
		if s.Entered {
			inC, inS, inAt = append(inC, k.contact), append(inS, k.segment), append(inAt, s.At)
		} else {
			outC, outS = append(outC, k.contact), append(outS, k.segment)
		}
	}
	if len(inC) > 0 {
		b.Queue(`INSERT INTO segment_memberships (contact_id, segment_id, entered_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
			ON CONFLICT (contact_id, segment_id) DO UPDATE SET entered_at = excluded.entered_at`, inC, inS, inAt)
	}
	if len(outC) > 0 {
		b.Queue(`DELETE FROM segment_memberships m USING unnest($1::text[], $2::text[]) AS u(c, s)
			WHERE m.contact_id = u.c AND m.segment_id = u.s`, outC, outS)
	}
	b.Queue(`INSERT INTO segment_history (contact_id, segment_id, change, event_id, at)
		SELECT c, s, ch, e, a FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY AS u(c, s, ch, e, a, n)
		ORDER BY n`, hContacts, hSegments, hChanges, hEvents, hAt)
}

func (c *Changes) queueRuns(b *pgx.Batch) {
	if len(c.Runs) == 0 {
		return
	}
	var ids, flows, contacts, statuses, steps, kinds, events, triggers []string
	var versions, seqs, executed, signalled []int32
	var until, finished []*time.Time
	var started, updated []time.Time
	for _, id := range sortedKeys(c.Runs) {
		r := c.Runs[id]
		ids = append(ids, r.ID)
		flows = append(flows, r.FlowID)
		versions = append(versions, int32(r.FlowVersion))
		contacts = append(contacts, r.ContactID)
		statuses = append(statuses, string(r.Status))
		steps = append(steps, r.StepID)
		seqs = append(seqs, int32(r.WaitSeq))
		kinds = append(kinds, string(r.WaitKind))
		events = append(events, r.WaitEvent)
		until = append(until, r.WaitUntil)
		triggers = append(triggers, r.TriggerEventID)
		executed = append(executed, int32(r.StepsExecuted))
		started = append(started, r.StartedAt)
		updated = append(updated, r.UpdatedAt)
		finished = append(finished, r.FinishedAt)
		signalled = append(signalled, int32(r.SignalledSeq))
	}
	b.Queue(`INSERT INTO flow_runs (`+runColumns+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[],
			$10::timestamptz[], $11::text[], $12::int[], $13::timestamptz[], $14::timestamptz[], $15::timestamptz[], $16::int[])
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, step_id = excluded.step_id, wait_seq = excluded.wait_seq,
			signalled_seq = excluded.signalled_seq,
			wait_kind = excluded.wait_kind, wait_event = excluded.wait_event, wait_until = excluded.wait_until,
			steps_executed = excluded.steps_executed, updated_at = excluded.updated_at, finished_at = excluded.finished_at`,
		ids, flows, versions, contacts, statuses, steps, seqs, kinds, events, until, triggers, executed, started, updated, finished, signalled)
}

func (c *Changes) queueLedger(b *pgx.Batch) {
	n := len(c.Ledger)
	if n == 0 {
		return
	}
	contacts, models, kinds, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	rules, flows, steps, runs, events := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	points := make([]float64, n)
	modelVersions, flowVersions := make([]int32, n), make([]int32, n)
	at := make([]time.Time, n)
	expires := make([]*time.Time, n)
	keys := make([]*string, n)
	for i, l := range c.Ledger {
		contacts[i], models[i], kinds[i], reasons[i] = l.ContactID, l.Model, l.Kind, l.Reason
		rules[i], flows[i], steps[i], runs[i], events[i] = l.RuleID, l.FlowID, l.StepID, l.RunID, l.EventID
		points[i], modelVersions[i], flowVersions[i], at[i], expires[i] = l.Points, int32(l.ModelVersion), int32(l.FlowVersion), l.At, l.ExpiresAt
		if l.IdemKey != "" {
			k := l.IdemKey
			keys[i] = &k
		}
	}
	b.Queue(`INSERT INTO score_ledger (contact_id, model, points, kind, reason, rule_id, model_version, flow_id, flow_version,
			step_id, run_id, event_id, at, expires_at, idem_key)
		SELECT c, m, p, k, r, ru, mv, f, fv, s, rn, e, a, x, ik
		FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::int[],
			$10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::text[])
			WITH ORDINALITY AS u(c, m, p, k, r, ru, mv, f, fv, s, rn, e, a, x, ik, n)
		ORDER BY n`,
		contacts, models, points, kinds, reasons, rules, modelVersions, flows, flowVersions, steps, runs, events, at, expires, keys)
}

func (c *Changes) queueTasks(b *pgx.Batch) {
	for _, t := range c.Tasks {
		b.Queue(`WITH t AS (
				INSERT INTO crm_tasks (contact_id, title, description, assignee, due_at, reason, model, threshold_id, crossing,
					flow_id, flow_version, step_id, run_id, event_id, idem_key, delivery_status, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, CASE WHEN $16 = '' THEN 'none' ELSE 'pending' END, $17)
				ON CONFLICT (idem_key) DO NOTHING RETURNING id),
			d AS (
				INSERT INTO deliveries (kind, crm_task_id, url, body, idem_key, created_at)
				SELECT 'crm_task', t.id, $16, $18::jsonb || jsonb_build_object('id', t.id), 'crm_task:' || $15, $17 FROM t WHERE $16 <> ''
				RETURNING id)
			INSERT INTO outbox (partition, kind, workflow_id, payload)
			SELECT $19, $20, $21 || d.id, jsonb_build_object('delivery_id', d.id) FROM d`,
			t.ContactID, t.Title, t.Description, t.Assignee, t.DueAt, t.Reason, t.Model, t.ThresholdID, t.Crossing,
			t.FlowID, t.FlowVersion, t.StepID, t.RunID, t.EventID, t.IdemKey, t.DeliverTo, t.CreatedAt, t.Body, t.Partition,
			string(contract.OutboxDeliver), contract.DeliveryWorkflowPrefix)
	}
	for _, w := range c.Webhooks {
		b.Queue(`WITH d AS (
				INSERT INTO deliveries (kind, url, body, idem_key, created_at, headers) VALUES ('webhook', $1, $2, $3, $4, COALESCE($6::jsonb, '{}'))
				ON CONFLICT (idem_key) DO NOTHING RETURNING id)
			INSERT INTO outbox (partition, kind, workflow_id, payload)
			SELECT $5, $7, $8 || d.id, jsonb_build_object('delivery_id', d.id) FROM d`,
			w.URL, w.Body, w.IdemKey, w.CreatedAt, w.Partition, w.Headers, string(contract.OutboxDeliver), contract.DeliveryWorkflowPrefix)
	}
}

func (c *Changes) queueOutbox(b *pgx.Batch) {
	n := len(c.Outbox)
	if n == 0 {
		return
	}
	parts := make([]int32, n)
	kinds, ids, payloads := make([]string, n), make([]string, n), make([]string, n)
	for i, o := range c.Outbox {
		parts[i], kinds[i], ids[i], payloads[i] = int32(o.Partition), string(o.Kind), o.WorkflowID, jsonText(o.Payload)
	}
	b.Queue(`INSERT INTO outbox (partition, kind, workflow_id, payload)
		SELECT p, k, w, pl::jsonb FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(p, k, w, pl, n) ORDER BY n`,
		parts, kinds, ids, payloads)
}
