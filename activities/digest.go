package activities

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// RunDigest sends a schedule flow's hot lists for one firing: for each
// digest step, the step's leads as one signed webhook delivery (when the
// step has a url) and one CRM task per owner listing their leads (when it
// has an owner_field). Everything is written in one transaction under keys
// derived from the flow, step and firing time, then handed to the delivery
// workflows: a retried activity writes nothing twice. A flow that is no
// longer published sends nothing.
func (a *Activities) RunDigest(ctx context.Context, in contract.DigestInput) (contract.DigestResult, error) {
	if err := a.checkDeployment(contract.ActivityRunDigest, in.Deployment); err != nil {
		return contract.DigestResult{}, err
	}
	var res contract.DigestResult
	d, _, err := a.Store.Definition(ctx, in.FlowID)
	if err != nil {
		return res, fmt.Errorf("error loading flow %q for its digest: %w", in.FlowID, err)
	}
	if d.Status != "published" {
		res.Skipped = "flow is " + d.Status
		a.Log.Info().Str("flow", in.FlowID).Str("status", d.Status).Msg("digest skipped: the flow is not published")
		return res, nil
	}
	f, _, err := a.scheduleFlow(ctx, in.FlowID)
	if err != nil {
		return res, err
	}
	if f == nil {
		res.Skipped = "flow has no schedule trigger"
		return res, nil
	}
	now := a.now()
	fired := in.FiredAt.UTC()
	partition := store.SchedulePartition(f.ID)
	var tasks []store.TaskRow
	var hooks []store.WebhookRow
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.Type != flows.StepDigest {
			continue
		}
		m, err := a.scoreModel(ctx, s.Model)
		if err != nil {
			return res, err
		}
		q := store.HotListQuery{Model: s.Model, Now: now, Segment: s.Segment, OwnerField: s.OwnerField, Limit: s.Top}
		if m.Decay != nil {
			q.HalfLife = m.Decay.HalfLife.Duration
		}
		for _, name := range s.Band {
			min, below, ok := flows.BandBounds(m, name)
			if !ok {
				return res, fmt.Errorf("digest step %q: score model %q has no band %q any more", s.ID, s.Model, name)
			}
			q.Ranges = append(q.Ranges, store.ScoreRange{Min: min, Below: below})
		}
		leads, err := a.Store.HotList(ctx, q)
		if err != nil {
			return res, err
		}
		for i := range leads { // the band of the score read now
			b, _ := flows.BandFor(m, leads[i].Score)
			leads[i].Band = b.Name
		}
		res.Leads += len(leads)
		key := fmt.Sprintf("digest:%s:%s:%s", f.ID, s.ID, fired.Format(time.RFC3339))
		if s.URL != "" {
			hooks = append(hooks, store.WebhookRow{Partition: partition, URL: s.URL, IdemKey: key, CreatedAt: now,
				Body: digestBody(f, d.CurrentVersion, s, fired, leads)})
		}
		if s.OwnerField != "" {
			for _, g := range byOwner(leads) {
				tasks = append(tasks, a.digestTask(f, d.CurrentVersion, s, fired, key, partition, g, now))
			}
		}
	}
	res.Webhooks = len(hooks)
	if res.Tasks, err = a.Store.WriteDigest(ctx, tasks, hooks, now); err != nil {
		return res, err
	}
	if err := a.dispatch(ctx, partition); err != nil {
		// Committed: the partition's own loop dispatches what is left.
		a.Log.Warn().Err(err).Int("partition", partition).Msg("outbox dispatch incomplete after a digest")
	}
	a.Log.Info().Str("flow", f.ID).Time("fired_at", fired).Int("leads", res.Leads).Int("tasks", res.Tasks).
		Int("webhooks", res.Webhooks).Msg("digest sent")
	return res, nil
}

// scoreModel loads the current version of a score model.
func (a *Activities) scoreModel(ctx context.Context, id string) (*flows.ScoreModel, error) {
	d, _, err := a.Store.Definition(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("error loading score model %q for a digest: %w", id, err)
	}
	docs, errs := flows.Decode(id, d.Body)
	if len(errs) > 0 || len(docs) != 1 || docs[0].ScoreModel == nil {
		return nil, fmt.Errorf("stored score model %q (version %d) does not decode: %v", id, d.CurrentVersion, errs)
	}
	return docs[0].ScoreModel, nil
}

// ownerLeads is one owner's leads, highest score first.
type ownerLeads struct {
	Owner string          `json:"owner"`
	Leads []store.HotLead `json:"leads"`
}

// byOwner groups leads by owner in the order of each owner's best lead;
// leads without an owner form the group with owner "".
func byOwner(leads []store.HotLead) []ownerLeads {
	var out []ownerLeads
	at := map[string]int{}
	for _, l := range leads {
		i, ok := at[l.Owner]
		if !ok {
			i = len(out)
			at[l.Owner] = i
			out = append(out, ownerLeads{Owner: l.Owner})
		}
		out[i].Leads = append(out[i].Leads, l)
	}
	return out
}

// digestBody is the JSON a digest's webhook receives (under the signed
// Standard Webhooks headers of every delivery).
func digestBody(f *flows.Flow, version int, s *flows.Step, fired time.Time, leads []store.HotLead) map[string]any {
	body := map[string]any{
		"type":     "hot_list",
		"flow":     map[string]any{"id": f.ID, "version": version},
		"step":     s.ID,
		"fired_at": fired.Format(time.RFC3339),
		"model":    s.Model,
		"top":      s.Top,
	}
	if len(s.Band) > 0 {
		body["band"] = s.Band
	}
	if s.Segment != "" {
		body["segment"] = s.Segment
	}
	if leads == nil {
		leads = []store.HotLead{}
	}
	if s.GroupByOwner {
		groups := byOwner(leads)
		if groups == nil {
			groups = []ownerLeads{}
		}
		body["owners"] = groups
	} else {
		body["leads"] = leads
	}
	return body
}

// digestTask is the CRM task listing one owner's leads. Its contact is the
// owner's best lead (a task belongs to a contact); all of them are in its
// description and in the body delivered to the CRM.
func (a *Activities) digestTask(f *flows.Flow, version int, s *flows.Step, fired time.Time, key string, partition int, g ownerLeads, now time.Time) store.TaskRow {
	who := g.Owner
	title := fmt.Sprintf("Hot list: %d %s to call today", len(g.Leads), plural(len(g.Leads), "lead", "leads"))
	if who == "" {
		title = fmt.Sprintf("Hot list: %d %s without an owner", len(g.Leads), plural(len(g.Leads), "lead", "leads"))
	}
	var desc strings.Builder
	fmt.Fprintf(&desc, "Today's hot list (%s, %s):\n", s.Model, fired.Format("2006-01-02 15:04 MST"))
	for i, l := range g.Leads {
		fmt.Fprintf(&desc, "%d. %s (%s): %s points", i+1, cmp.Or(l.Email, l.ContactID), l.ContactID, fmtPoints(l.Score))
		if l.Band != "" {
			fmt.Fprintf(&desc, ", %s", l.Band)
		}
		desc.WriteString("\n")
	}
	taskKey := key + ":" + who
	ids := make([]string, len(g.Leads))
	for i, l := range g.Leads {
		ids[i] = l.ContactID
	}
	t := store.TaskRow{
		ContactID: g.Leads[0].ContactID, Partition: partition, Title: title, Description: strings.TrimSuffix(desc.String(), "\n"),
		Assignee: who, Reason: "digest", Model: s.Model, FlowID: f.ID, FlowVersion: version, StepID: s.ID,
		RunID: fmt.Sprintf("digest:%s:%s", f.ID, fired.Format(time.RFC3339)), IdemKey: taskKey, CreatedAt: now,
		DeliverTo: a.Engine.CRMWebhookURL,
	}
	t.Body = map[string]any{
		"contact_id": t.ContactID, "title": t.Title, "description": t.Description, "assignee": t.Assignee,
		"reason": t.Reason, "created_at": now.UTC().Format(time.RFC3339), "idempotency_key": taskKey,
		"contact_ids": ids, "leads": g.Leads, "fired_at": fired.Format(time.RFC3339),
	}
	return t
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func fmtPoints(f float64) string {
	s := fmt.Sprintf("%.2f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
