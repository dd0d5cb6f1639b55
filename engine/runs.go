package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// source says what an action runs for: a flow run's step or a threshold.
type source struct {
	flowID      string
	flowVersion int
	runID       string
	stepID      string
	model       string
	thresholdID string
	crossing    int
	eventID     string
	reason      string
	// The idempotency key of this execution: IdemKey(keyKind, keyParts…,
	// step id).
	keyKind  string
	keyParts []string
}

// action applies one action step.
func (a *applier) action(s *flows.Step, src source) error {
	metricsStep(s.Type)
	key := IdemKey(src.keyKind, append(append([]string(nil), src.keyParts...), s.ID)...)
	switch s.Type {
	case flows.StepLeadScore:
		mv := a.model(s.Model)
		if mv == nil {
			a.e.Log.Warn().Str("model", s.Model).Str("flow", src.flowID).Msg("lead_score step names a model that is not published; skipped")
			return nil
		}
		cur := 0.0
		if sc := a.st.Scores[s.Model]; sc != nil {
			a.materializeDecay(mv, sc, src.eventID)
			cur = sc.Score
		}
		points := 0.0
		if s.Points != nil {
			points = *s.Points
		}
		delta := flows.ScoreChange(s.Op, points, cur)
		if s.Cap != nil {
			delta = flows.ApplyCap(delta, s.Cap, a.capUsed(s.Model, "", src.flowID, s.ID, a.now.Add(-s.Cap.Period.Duration)))
		}
		a.give(grant{model: mv, points: delta, kind: "flow", reason: fmt.Sprintf("flow %s step %s: %s %g", src.flowID, s.ID, s.Op, points),
			flowID: src.flowID, flowVer: src.flowVersion, stepID: s.ID, runID: src.runID, eventID: src.eventID, idemKey: key})
	case flows.StepAddTag:
		a.addTag(s.Tag)
	case flows.StepRemoveTag:
		a.removeTag(s.Tag)
	case flows.StepDisqualify:
		ct := &a.st.Contact
		if !ct.Disqualified {
			ct.Disqualified = true
			ct.DisqualifiedReason = s.Reason
			a.ch.TouchContact(a.st)
			a.stateDirty, a.profileDirty = true, true
			a.pushDerived(flows.TriggerFieldChanged, map[string]any{"field": "disqualified", "from": false, "to": true}, "disqualified")
		}
		a.addTag("disqualified")
	case flows.StepUpdateField:
		a.setField(s.Field, s.Value)
	case flows.StepSetStage:
		a.setField("stage", s.Stage)
	case flows.StepCreateCRMTask:
		a.createTask(s, src, key)
	case flows.StepWebhook:
		body, headers, err := a.webhookRequest(s, src)
		if err != nil {
			return err
		}
		a.ch.Webhooks = append(a.ch.Webhooks, store.WebhookRow{Partition: a.st.Contact.Partition, URL: flows.RenderURL(s.URL, a.snapshot()),
			Body: body, Headers: headers, IdemKey: "webhook:" + key, CreatedAt: a.now})
	default:
		return fmt.Errorf("step %s: %s is not an action", s.ID, s.Type)
	}
	return nil
}

// webhookRequest renders a webhook step's body and extra headers. By
// default the body is an envelope (contact, reason, flow, step, time) with
// the step's body under "data"; with "envelope": false the step's body is
// the whole request body, as Slack-style receivers expect.
func (a *applier) webhookRequest(s *flows.Step, src source) (json.RawMessage, map[string]string, error) {
	snap := a.snapshot()
	var body any
	if s.Envelope != nil && !*s.Envelope {
		body = flows.RenderJSON(s.Body, snap)
	} else {
		env := map[string]any{
			"contact_id": a.st.Contact.ID, "email": a.st.Contact.Email, "reason": src.reason,
			"flow_id": src.flowID, "step_id": s.ID, "at": a.now.UTC().Format(time.RFC3339),
		}
		if s.Body != nil {
			env["data"] = flows.RenderJSON(s.Body, snap)
		}
		body = env
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, nil, fmt.Errorf("step %s: error encoding the webhook body: %w", s.ID, err)
	}
	var headers map[string]string
	if len(s.Headers) > 0 {
		headers = make(map[string]string, len(s.Headers))
		for name, tmpl := range s.Headers {
			headers[name] = flows.RenderHeader(tmpl, snap)
		}
	}
	return raw, headers, nil
}

func (a *applier) createTask(s *flows.Step, src source, key string) {
	snap := a.snapshot()
	t := store.TaskRow{
		ContactID: a.st.Contact.ID, Partition: a.st.Contact.Partition,
		Title: flows.RenderTemplate(s.Title, snap), Description: flows.RenderTemplate(s.Description, snap),
		Assignee: flows.RenderTemplate(s.Assignee, snap), Reason: src.reason,
		Model: src.model, ThresholdID: src.thresholdID, Crossing: src.crossing,
		FlowID: src.flowID, FlowVersion: src.flowVersion, StepID: s.ID, RunID: src.runID, EventID: src.eventID,
		IdemKey: key, CreatedAt: a.now, DeliverTo: a.e.CRMWebhookURL,
	}
	if s.DueIn.Duration > 0 {
		due := a.now.Add(s.DueIn.Duration)
		t.DueAt = &due
	}
	t.Body = map[string]any{
		"contact_id": t.ContactID, "email": a.st.Contact.Email, "title": t.Title, "description": t.Description,
		"assignee": t.Assignee, "reason": t.Reason, "created_at": a.now.UTC().Format(time.RFC3339), "idempotency_key": key,
	}
	if t.DueAt != nil {
		t.Body["due_at"] = t.DueAt.UTC().Format(time.RFC3339)
	}
	a.ch.Tasks = append(a.ch.Tasks, t)
	metrics.CRMTasksCreated.Inc()
}

// triggerFlows starts a run of every published flow whose trigger matches.
func (a *applier) triggerFlows(ev flows.Event) error {
	for _, fv := range a.cat.Flows {
		f := fv.Flow
		if !flows.MatchTrigger(&f.Trigger, ev) {
			continue
		}
		if err := a.enter(fv, ev.ID); err != nil {
			return err
		}
	}
	return nil
}

// enter starts a run of a flow if its entry policy allows.
func (a *applier) enter(fv *FlowVersion, eventID string) error {
	f := fv.Flow
	if a.st.Contact.Disqualified {
		return nil
	}
	e := a.st.Entries[f.ID]
	if e != nil {
		switch f.Entry.Policy {
		case flows.EntryOnce:
			return nil
		case flows.EntryOncePer:
			if a.now.Sub(e.LastEnteredAt) < f.Entry.Period.Duration {
				return nil
			}
		}
	} else {
		e = &store.EntryRow{FlowID: f.ID}
		a.st.Entries[f.ID] = e
	}
	e.Entries++
	e.LastEnteredAt = a.now
	a.ch.TouchEntry(a.st, f.ID)
	run := &store.RunRow{
		ID: fmt.Sprintf("%s:%s:%d", f.ID, a.st.Contact.ID, e.Entries), FlowID: f.ID, FlowVersion: fv.Version,
		ContactID: a.st.Contact.ID, Status: contract.RunRunning, TriggerEventID: eventID, StartedAt: a.now, UpdatedAt: a.now,
	}
	a.st.Runs[run.ID] = run
	_, err := a.execute(f, run, f.Steps[0].ID, eventID)
	return err
}

// maxStepsPerRun bounds a run (flows can loop through waits).
const maxStepsPerRun = 10_000

// execute runs steps from stepID until the run waits or ends. It returns the
// run's wait, or nil when the run finished.
func (a *applier) execute(f *flows.Flow, run *store.RunRow, stepID, eventID string) (*contract.Wait, error) {
	a.ch.Runs[run.ID] = run
	run.Status = contract.RunRunning
	run.UpdatedAt = a.now
	for stepID != flows.EndStep {
		idx := -1
		for i := range f.Steps {
			if f.Steps[i].ID == stepID {
				idx = i
			}
		}
		if idx < 0 {
			return nil, fmt.Errorf("flow %s version %d has no step %q", f.ID, run.FlowVersion, stepID)
		}
		s := &f.Steps[idx]
		run.StepID = s.ID
		run.StepsExecuted++
		if run.StepsExecuted > maxStepsPerRun {
			a.e.Log.Error().Str("run", run.ID).Msg("run exceeded the step limit; exited")
			a.finish(run, contract.RunExited)
			return nil, nil
		}
		next := f.NextOf(idx)
		switch {
		case s.IsAction():
			src := source{flowID: f.ID, flowVersion: run.FlowVersion, runID: run.ID, eventID: eventID,
				reason:  fmt.Sprintf("flow %s (v%d) step %s", f.ID, run.FlowVersion, s.ID),
				keyKind: "run", keyParts: []string{run.ID, strconv.Itoa(run.StepsExecuted)}}
			if err := a.action(s, src); err != nil {
				return nil, err
			}
			// Consequences of this step (tags, scores, segments) are visible to the next one.
			if err := a.settle(eventID); err != nil {
				return nil, err
			}
		case s.Type == flows.StepCondition:
			metricsStep(s.Type)
			if flows.EvalCondition(s.If, a.snapshot(), a.now, a.cat.Pure) {
				next = s.Then
			} else {
				next = s.Else
			}
		case s.Type == flows.StepWait:
			metricsStep(s.Type)
			return a.wait(run, contract.WaitTimer, "", a.now.Add(s.Duration.Duration))
		case s.Type == flows.StepWaitUntil:
			metricsStep(s.Type)
			until, err := flows.WaitUntil(s, a.snapshot(), a.now)
			if err != nil {
				a.e.Log.Warn().Err(err).Str("run", run.ID).Str("step", s.ID).Msg("wait_until has no time to wait for; continuing")
			} else if until.After(a.now) {
				return a.wait(run, contract.WaitTimer, "", until)
			}
		case s.Type == flows.StepWaitForEvent:
			metricsStep(s.Type)
			return a.wait(run, contract.WaitEvent, s.Event, a.now.Add(s.Timeout.Duration))
		case s.Type == flows.StepExit:
			metricsStep(s.Type)
			a.finish(run, contract.RunExited)
			return nil, nil
		}
		stepID = next
	}
	a.finish(run, contract.RunCompleted)
	return nil, nil
}

func (a *applier) finish(run *store.RunRow, status contract.RunStatus) {
	run.Status = status
	run.WaitKind, run.WaitEvent, run.WaitUntil = "", "", nil
	run.UpdatedAt = a.now
	t := a.now
	run.FinishedAt = &t
	delete(a.st.Runs, run.ID)
	a.ch.Runs[run.ID] = run
}

// wait parks a run. A new run's workflow is started through the outbox; a
// resumed run's wait goes back to the workflow that resumed it.
func (a *applier) wait(run *store.RunRow, kind contract.WaitKind, event string, until time.Time) (*contract.Wait, error) {
	run.Status = contract.RunWaiting
	run.WaitSeq++
	run.WaitKind, run.WaitEvent = kind, event
	u := until
	run.WaitUntil = &u
	run.UpdatedAt = a.now
	a.ch.Runs[run.ID] = run
	a.waitingNow[run.ID] = true
	w := &contract.Wait{RunID: run.ID, WaitSeq: run.WaitSeq, Kind: kind, Event: event, Until: until}
	if run.ID != a.resuming {
		a.ch.Outbox = append(a.ch.Outbox, store.OutboxRow{Partition: a.st.Contact.Partition, Kind: contract.OutboxStartRun, WorkflowID: contract.RunWorkflowID(run.ID), Payload: w})
	}
	return w, nil
}

// resume continues a waiting run after its wait ended.
func (a *applier) resume(run *store.RunRow, outcome contract.Outcome, eventID string) (*contract.Wait, error) {
	f, err := a.e.cache.flowAt(a.ctx, a.tx, run.FlowID, run.FlowVersion)
	if err != nil {
		return nil, err
	}
	var next string
	for i := range f.Steps {
		if f.Steps[i].ID != run.StepID {
			continue
		}
		s := &f.Steps[i]
		switch {
		case s.Type == flows.StepWaitForEvent && outcome == contract.OutcomeEvent:
			next = s.OnEvent
		case s.Type == flows.StepWaitForEvent:
			next = s.OnTimeout
		default:
			next = f.NextOf(i)
		}
	}
	if next == "" {
		return nil, fmt.Errorf("run %s waits at unknown step %q of flow %s version %d", run.ID, run.StepID, f.ID, run.FlowVersion)
	}
	if eventID == "" {
		eventID = fmt.Sprintf("%s/%s/%d", escapeIDPart(run.ID), outcome, run.WaitSeq)
	}
	a.startChain(eventID, "resume", run.ID, strconv.Itoa(run.WaitSeq), string(outcome))
	w, err := a.execute(f, run, next, eventID)
	if err != nil {
		return nil, err
	}
	if err := a.drain(); err != nil {
		return nil, err
	}
	return w, nil
}

// wakeRuns signals the runs of this contact waiting for this event.
func (a *applier) wakeRuns(ev flows.Event) error {
	for _, id := range sortedKeys(a.st.Runs) {
		run := a.st.Runs[id]
		if run.Status != contract.RunWaiting || run.WaitKind != contract.WaitEvent || run.WaitEvent != ev.Type || a.waitingNow[run.ID] ||
			run.SignalledSeq == run.WaitSeq { // already signalled for this wait: one signal per wait
			continue
		}
		f, err := a.e.cache.flowAt(a.ctx, a.tx, run.FlowID, run.FlowVersion)
		if err != nil {
			return err
		}
		if s := f.Step(run.StepID); s != nil && !flows.MatchFilters(s.Filters, ev.Properties) {
			continue
		}
		a.ch.Outbox = append(a.ch.Outbox, store.OutboxRow{Partition: a.st.Contact.Partition, Kind: contract.OutboxSignalRun, WorkflowID: contract.RunWorkflowID(run.ID),
			Payload: contract.RunSignal{WaitSeq: run.WaitSeq, EventID: ev.ID}})
		run.SignalledSeq = run.WaitSeq
		a.ch.Runs[run.ID] = run
	}
	return nil
}
