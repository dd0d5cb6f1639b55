package activities

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// ScheduleCatchupWindow is how far back a schedule flow's Temporal Schedule
// catches up firings it missed while Temporal (e.g. the one `leadflow dev`
// embeds) was down. With the overlap policy skip, the missed firings
// within it start one run on return, not one per missed day; firings older
// than this are dropped.
const ScheduleCatchupWindow = 7 * 24 * time.Hour

// ScheduleID is the id of a schedule flow's Temporal Schedule.
func ScheduleID(taskQueue, flowID string) string {
	return contract.WorkflowID(taskQueue, contract.ScheduleWorkflowPrefix+flowID)
}

// ScheduleOptions is the Temporal Schedule of a schedule flow: its cron in
// its time zone (Temporal keeps the local time across daylight-saving
// changes), starting DigestWorkflow on the task queue at each firing.
// Overlap skip: a firing while the previous run has not finished (no
// worker is up, say) is skipped, so the run that finally executes reads the
// hot list once, as it is then; missed firings caught up after an outage
// of Temporal itself start one run for the same reason.
func ScheduleOptions(taskQueue, deployment string, f *flows.Flow, paused bool) client.ScheduleOptions {
	return client.ScheduleOptions{
		ID: ScheduleID(taskQueue, f.ID),
		Spec: client.ScheduleSpec{
			CronExpressions: []string{f.Trigger.Cron},
			TimeZoneName:    f.Trigger.Timezone,
		},
		Action: &client.ScheduleWorkflowAction{
			ID:        contract.WorkflowID(taskQueue, "digest-"+f.ID),
			Workflow:  contract.DigestWorkflowName,
			Args:      []any{contract.DigestInput{FlowID: f.ID, Deployment: deployment}},
			TaskQueue: taskQueue,
		},
		Overlap:       enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: ScheduleCatchupWindow,
		Paused:        paused,
		Note:          scheduleNote(taskQueue, deployment, f, paused),
	}
}

// scheduleNote is the schedule's note: what it is, and a fingerprint of
// everything leadflow sets on it. SyncSchedule leaves a schedule whose
// note and pause state are as wanted alone: an update makes Temporal drop
// the firings missed before it, which a worker syncing every schedule as
// it starts would otherwise do to the catch-up after an outage.
func scheduleNote(taskQueue, deployment string, f *flows.Flow, paused bool) string {
	h := sha256.Sum256([]byte(strings.Join([]string{f.Trigger.Cron, f.Trigger.Timezone, taskQueue, deployment,
		strconv.FormatBool(paused), ScheduleCatchupWindow.String(), "skip", contract.DigestWorkflowName}, "\x00")))
	state := "running"
	if paused {
		state = "paused with its flow"
	}
	return fmt.Sprintf("managed by leadflow, %s (sync %x): publish, pause or archive the flow instead of editing this schedule", state, h[:6])
}

// SyncSchedule makes a flow's Temporal Schedule match its definition: a
// published schedule flow has one, running; a paused one has one, paused;
// an archived or missing flow, or one whose trigger is no longer a
// schedule, has none. It is idempotent (outbox rows may be dispatched more
// than once).
func (a *Activities) SyncSchedule(ctx context.Context, flowID string) error {
	f, status, err := a.scheduleFlow(ctx, flowID)
	if err != nil {
		return err
	}
	sc := a.Client.ScheduleClient()
	h := sc.GetHandle(ctx, ScheduleID(a.TaskQueue, flowID))
	if f == nil || status == "archived" {
		err := h.Delete(ctx)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("error deleting the schedule of flow %q: %w", flowID, err)
		}
		if err == nil {
			a.Log.Info().Str("flow", flowID).Msg("schedule deleted")
		}
		return nil
	}
	paused := status != "published"
	want := ScheduleOptions(a.TaskQueue, a.Deployment.ID, f, paused)
	_, err = sc.Create(ctx, want)
	switch {
	case err == nil:
		a.Log.Info().Str("flow", flowID).Str("cron", f.Trigger.Cron).Str("timezone", f.Trigger.Timezone).Bool("paused", paused).Msg("schedule created")
		return nil
	case !errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return fmt.Errorf("error creating the schedule of flow %q: %w", flowID, err)
	}
	updated := false
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		if st := s.State; st != nil && st.Note == want.Note && st.Paused == paused {
			return nil, temporal.ErrSkipScheduleUpdate // as wanted already
		}
		updated = true
		s.Spec = &want.Spec
		s.Action = want.Action
		s.Policy = &client.SchedulePolicies{Overlap: want.Overlap, CatchupWindow: want.CatchupWindow}
		s.State = &client.ScheduleState{Paused: paused, Note: want.Note}
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return fmt.Errorf("error updating the schedule of flow %q: %w", flowID, err)
	}
	if !updated {
		return nil
	}
	a.Log.Info().Str("flow", flowID).Str("cron", f.Trigger.Cron).Str("timezone", f.Trigger.Timezone).Bool("paused", paused).Msg("schedule updated")
	return nil
}

// scheduleFlow loads a flow's current version and status; the flow is nil
// when it does not exist or its trigger is not a schedule.
func (a *Activities) scheduleFlow(ctx context.Context, flowID string) (*flows.Flow, string, error) {
	d, _, err := a.Store.Definition(ctx, flowID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if d.Kind != flows.KindFlow {
		return nil, d.Status, nil
	}
	docs, errs := flows.Decode(flowID, d.Body)
	if len(errs) > 0 || len(docs) != 1 || docs[0].Flow == nil {
		return nil, "", fmt.Errorf("stored flow %q (version %d) does not decode: %v", flowID, d.CurrentVersion, errs)
	}
	f := docs[0].Flow
	if !f.IsScheduled() {
		return nil, d.Status, nil
	}
	return f, d.Status, nil
}

// SyncSchedules syncs the schedule of every flow that has or had a
// schedule trigger: a worker does it when it starts, so that schedules
// follow definitions changed while no worker ran.
func (a *Activities) SyncSchedules(ctx context.Context) error {
	ids, err := a.Store.ScheduleFlowIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := a.SyncSchedule(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
