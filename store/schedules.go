package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contract"
)

// SchedulePartition is the partition whose outbox carries a schedule
// flow's sync_schedule rows and digest deliveries: wake it after queueing
// one.
func SchedulePartition(flowID string) int { return PartitionOf("schedule:" + flowID) }

// queueScheduleSync queues a sync_schedule outbox row for a flow that has or
// ever had a schedule trigger (in any version), so that its Temporal
// Schedule follows the definition: created or updated when published,
// paused with the flow, deleted when archived or no longer a schedule.
func queueScheduleSync(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (partition, kind, workflow_id, payload)
		SELECT $1, $3, $4 || $2::text, jsonb_build_object('flow_id', $2::text)
		WHERE EXISTS (SELECT 1 FROM definitions d JOIN definition_versions v ON v.id = d.id
			WHERE d.id = $2 AND d.kind = 'flow' AND v.body->'trigger'->>'type' = 'schedule')`,
		SchedulePartition(id), id, string(contract.OutboxSyncSchedule), contract.ScheduleWorkflowPrefix)
	if err != nil {
		return fmt.Errorf("error queueing the schedule sync of %q: %w", id, err)
	}
	return nil
}

// ScheduleFlowIDs returns the ids of every flow that has or ever had a
// schedule trigger, whatever its status: what a worker reconciles at start.
func (s *Store) ScheduleFlowIDs(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT DISTINCT d.id FROM definitions d JOIN definition_versions v ON v.id = d.id
		WHERE d.kind = 'flow' AND v.body->'trigger'->>'type' = 'schedule' ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("error listing schedule flows: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("error listing schedule flows: %w", err)
	}
	return ids, nil
}

// HotListQuery selects a digest's leads: the Limit highest scores of Model
// at Now among contacts not disqualified, with a score in one of Ranges
// (the model's bands asked for) and in Segment when those are given;
// OwnerField names the contact field read as the owner.
type HotListQuery struct {
	Model string
	// Now and HalfLife: the score is read at Now, half-life decay included
	// (as the API's hot list reads it); HalfLife 0 reads it as stored.
	Now      time.Time
	HalfLife time.Duration
	Ranges   []ScoreRange
	Segment  string
	// OwnerField is the contact field holding the owner ("" for none).
	OwnerField string
	Limit      int
}

// ScoreRange is the scores from Min, inclusive, up to Below, exclusive (no
// upper bound when nil): one band of a model.
type ScoreRange struct {
	Min   float64
	Below *float64
}

// HotLead is one lead of a digest.
type HotLead struct {
	ContactID string  `json:"contact_id"`
	Email     string  `json:"email"`
	Score     float64 `json:"score"`
	Band      string  `json:"band"`
	Owner     string  `json:"owner,omitempty"`
}

// HotList returns the leads of a digest, highest score first (ties by
// contact id). Tombstones of erased contacts are never leads. Band is the stored band; the caller places the score read
// in the model's bands.
func (s *Store) HotList(ctx context.Context, q HotListQuery) ([]HotLead, error) {
	mins := make([]*string, len(q.Ranges))
	belows := make([]*string, len(q.Ranges))
	for i, r := range q.Ranges {
		mins[i], belows[i] = numericText(&r.Min), numericText(r.Below)
	}
	clock := ScoreClock{Now: q.Now}
	rows, err := s.Pool.Query(ctx, `SELECT c.id, c.email, s.score::float8, s.band,
			CASE WHEN $4 = '' THEN '' ELSE coalesce(c.fields->>$4, '') END
		FROM (SELECT s.contact_id, s.band, `+decayedScoreSQL("s", "$6::timestamptz", "$7::float8")+` AS score
			FROM scores s WHERE s.model = $1 OFFSET 0) s
		JOIN contacts c ON c.id = s.contact_id
		WHERE NOT c.disqualified AND c.erased_at IS NULL
		  AND (cardinality($2::text[]) = 0 OR EXISTS (SELECT 1 FROM unnest($2::text[], $8::text[]) b(lo, hi)
			WHERE s.score >= b.lo::numeric AND (b.hi IS NULL OR s.score < b.hi::numeric)))
		  AND ($3 = '' OR EXISTS (SELECT 1 FROM segment_memberships m WHERE m.contact_id = c.id AND m.segment_id = $3))
		ORDER BY s.score DESC, c.id
		LIMIT $5`, q.Model, mins, q.Segment, q.OwnerField, q.Limit, clock.at(), float64(q.HalfLife), belows)
	if err != nil {
		return nil, fmt.Errorf("error loading the hot list of %q: %w", q.Model, err)
	}
	leads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HotLead, error) {
		var l HotLead
		err := r.Scan(&l.ContactID, &l.Email, &l.Score, &l.Band, &l.Owner)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("error reading the hot list of %q: %w", q.Model, err)
	}
	return leads, nil
}

// WriteDigest records a digest's CRM tasks and webhook calls in one
// transaction, each with its deliveries and outbox rows. Rows whose
// idempotency key exists already are left alone, so a retried digest
// writes nothing twice. It returns how many tasks were new.
func (s *Store) WriteDigest(ctx context.Context, tasks []TaskRow, hooks []WebhookRow, at time.Time) (int, error) {
	keys := make([]string, len(tasks))
	for i, t := range tasks {
		keys[i] = t.IdemKey
	}
	var before int
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM crm_tasks WHERE idem_key = ANY($1)`, keys).Scan(&before); err != nil {
			return fmt.Errorf("error reading digest tasks: %w", err)
		}
		c := NewChanges(at)
		c.Tasks, c.Webhooks = tasks, hooks
		return c.Write(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("error writing the digest: %w", err)
	}
	return len(tasks) - before, nil
}
