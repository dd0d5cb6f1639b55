package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/temporallog"
)

// The baselines every claim is a ratio against, fed the same events:
//
//   - naive: one workflow per event, which runs the scoring as an activity
//     (what a Temporal newcomer writes);
//   - entity: one long-lived workflow per contact, one SignalWithStart per
//     event, the scoring in a local activity (the idiomatic entity design);
//   - ceiling: a plain Go loop doing the same writes per event in batched
//     transactions, no engine (what PostgreSQL itself can take).
//
// The scoring of each is the same simple rule: the points of the main
// model's engagement rules the event matches (flows.MatchTrigger); per
// event one transaction inserts the event row (idempotent on its id), loads
// and updates the contact's score and appends a ledger row. Each baseline
// writes to its own tables in the baselines database.
const (
	SystemNaive   = "naive"
	SystemEntity  = "entity"
	SystemCeiling = "ceiling"
)

// Workflow, signal and activity names of the baselines.
const (
	naiveWorkflowName  = "BenchNaiveWorkflow"
	entityWorkflowName = "BenchEntityWorkflow"
	entitySignal       = "event"
	scoreActivityName  = "BenchScore"
	// entityMaxHistory bounds an entity workflow's history before it
	// continues as new.
	entityMaxHistory = 5000
)

// BaselineEvent is one event as the baselines receive it.
type BaselineEvent struct {
	ID         string         `json:"id"`
	ContactID  string         `json:"contact_id"`
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties,omitempty"`
	SentAt     time.Time      `json:"sent_at"`
}

// ScoreInput is the input of the scoring activity.
type ScoreInput struct {
	System string        `json:"system"`
	Event  BaselineEvent `json:"event"`
}

// EntityInput is the input of the entity workflow.
type EntityInput struct {
	System    string `json:"system"`
	ContactID string `json:"contact_id"`
}

// NaiveWorkflow scores one event with one activity.
func NaiveWorkflow(ctx workflow.Context, in ScoreInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: 5 * time.Second},
	})
	return workflow.ExecuteActivity(ctx, scoreActivityName, in).Get(ctx, nil)
}

// EntityWorkflow is one contact's long-lived workflow: every event arrives
// as a signal and is scored by a local activity, in arrival order. It
// continues as new before its history grows large, after scoring the
// signals already received.
func EntityWorkflow(ctx workflow.Context, in EntityInput) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: 5 * time.Second},
	})
	ch := workflow.GetSignalChannel(ctx, entitySignal)
	score := func(ev BaselineEvent) error {
		return workflow.ExecuteLocalActivity(ctx, scoreActivityName, ScoreInput{System: in.System, Event: ev}).Get(ctx, nil)
	}
	for workflow.GetInfo(ctx).GetCurrentHistoryLength() < entityMaxHistory {
		var ev BaselineEvent
		ch.Receive(ctx, &ev)
		if err := score(ev); err != nil {
			return err
		}
	}
	for {
		var ev BaselineEvent
		if !ch.ReceiveAsync(&ev) {
			break
		}
		if err := score(ev); err != nil {
			return err
		}
	}
	return workflow.NewContinueAsNewError(ctx, entityWorkflowName, in)
}

// scorer gives an event the points of the main model's engagement rules.
type scorer struct {
	rules []flows.EngagementRule
}

func newScorer() (*scorer, error) {
	docs, err := shippedDocuments()
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if d.ScoreModel != nil && d.ScoreModel.ID == ModelMain {
			return &scorer{rules: d.ScoreModel.Engagement}, nil
		}
	}
	return nil, fmt.Errorf("no score model %q in the shipped definitions", ModelMain)
}

func (s *scorer) points(typ string, props map[string]any) float64 {
	ev := flows.Event{Type: typ, Properties: props}
	total := 0.0
	for i := range s.rules {
		if flows.MatchTrigger(&s.rules[i].On, ev) {
			total += s.rules[i].Points
		}
	}
	return flows.RoundPoints(total)
}

// baselineActivities holds the scoring activity's dependencies.
type baselineActivities struct {
	pool   *pgxpool.Pool
	scorer *scorer
}

// Score applies one event in one transaction: event row (a repeat changes
// nothing), the contact's score loaded under lock and updated, a ledger row.
func (a *baselineActivities) Score(ctx context.Context, in ScoreInput) error {
	t, err := tableOf(in.System)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadSystem", err)
	}
	ev := in.Event
	points := a.scorer.points(ev.Type, ev.Properties)
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		props := ev.Properties
		if props == nil {
			props = map[string]any{}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO `+t+`_events (id, contact_id, type, properties, sent_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`, ev.ID, ev.ContactID, ev.Type, props, ev.SentAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // applied before
		}
		var score float64 // load the contact, as a scoring step would
		err = tx.QueryRow(ctx, `SELECT score::float8 FROM `+t+`_scores WHERE contact_id = $1 FOR UPDATE`, ev.ContactID).Scan(&score)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// Additive: two first events of a contact may race to create its row.
		if _, err := tx.Exec(ctx, `INSERT INTO `+t+`_scores AS s (contact_id, score, updated_at) VALUES ($1, $2, now())
			ON CONFLICT (contact_id) DO UPDATE SET score = s.score + $2, updated_at = now()`, ev.ContactID, points); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO `+t+`_ledger (contact_id, points, event_id, at) VALUES ($1, $2, $3, now())`, ev.ContactID, points, ev.ID)
		return err
	})
}

func tableOf(system string) (string, error) {
	switch system {
	case SystemNaive, SystemEntity, SystemCeiling:
		return system, nil
	}
	return "", fmt.Errorf("unknown baseline system %q", system)
}

// baselineSchema creates (or empties) a baseline's tables.
func baselineSchema(ctx context.Context, pool *pgxpool.Pool, system string) error {
	t, err := tableOf(system)
	if err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `
		DROP TABLE IF EXISTS `+t+`_events, `+t+`_scores, `+t+`_ledger;
		CREATE TABLE `+t+`_events (
			id text PRIMARY KEY, contact_id text NOT NULL, type text NOT NULL, properties jsonb NOT NULL DEFAULT '{}',
			sent_at timestamptz NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp());
		CREATE TABLE `+t+`_scores (contact_id text PRIMARY KEY, score numeric(12, 2) NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL);
		CREATE TABLE `+t+`_ledger (id bigserial PRIMARY KEY, contact_id text NOT NULL, points numeric(12, 2) NOT NULL,
			event_id text NOT NULL UNIQUE, at timestamptz NOT NULL);
		CREATE INDEX ON `+t+`_ledger (contact_id);`)
	if err != nil {
		return fmt.Errorf("error creating the %s baseline's tables: %w", system, err)
	}
	return nil
}

// BaselineWorkerOptions configure RunBaselineWorker.
type BaselineWorkerOptions struct {
	DatabaseURL     string
	TemporalAddress string
	Namespace       string
	TaskQueue       string
}

// BindFlags declares the options as flags (for the hidden subcommand).
func (o *BaselineWorkerOptions) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.DatabaseURL, "database-url", "", "the baselines' database")
	fs.StringVar(&o.TemporalAddress, "temporal-address", "127.0.0.1:7233", "Temporal frontend")
	fs.StringVar(&o.Namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&o.TaskQueue, "task-queue", "", "task queue to poll")
}

// RunBaselineWorker runs a Temporal worker with the naive and entity
// baselines' workflows and scoring activity until ctx ends.
func RunBaselineWorker(ctx context.Context, o BaselineWorkerOptions, stderr io.Writer) error {
	if o.TaskQueue == "" || o.DatabaseURL == "" {
		return errors.New("baseline worker: --task-queue and --database-url are required")
	}
	sc, err := newScorer()
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, o.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	log := zerolog.New(stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	c, err := dialTemporal(ctx, o.TemporalAddress, o.Namespace, log)
	if err != nil {
		return err
	}
	defer c.Close()
	w := sdkworker.New(c, o.TaskQueue, sdkworker.Options{})
	registerBaselines(w, &baselineActivities{pool: pool, scorer: sc})
	if err := w.Start(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, "READY")
	<-ctx.Done()
	w.Stop()
	return nil
}

func registerBaselines(w sdkworker.Registry, acts *baselineActivities) {
	w.RegisterWorkflowWithOptions(NaiveWorkflow, workflow.RegisterOptions{Name: naiveWorkflowName})
	w.RegisterWorkflowWithOptions(EntityWorkflow, workflow.RegisterOptions{Name: entityWorkflowName})
	w.RegisterActivityWithOptions(acts.Score, activity.RegisterOptions{Name: scoreActivityName})
}

// dialTemporal connects, retrying while the server comes up.
func dialTemporal(ctx context.Context, addr, namespace string, log zerolog.Logger) (client.Client, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: namespace, Logger: temporallog.New(log)})
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("error connecting to Temporal at %s: %w", addr, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ceilingApply writes events as the ceiling does: per event the event row,
// the score upsert and the ledger row, batchSize events per transaction.
func ceilingApply(ctx context.Context, pool *pgxpool.Pool, sc *scorer, events []BaselineEvent, batchSize int) error {
	for len(events) > 0 {
		n := min(batchSize, len(events))
		chunk := events[:n]
		events = events[n:]
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, ev := range chunk {
				props := ev.Properties
				if props == nil {
					props = map[string]any{}
				}
				points := sc.points(ev.Type, ev.Properties)
				b.Queue(`INSERT INTO ceiling_events (id, contact_id, type, properties, sent_at) VALUES ($1, $2, $3, $4, $5)
					ON CONFLICT (id) DO NOTHING`, ev.ID, ev.ContactID, ev.Type, props, ev.SentAt)
				b.Queue(`INSERT INTO ceiling_scores (contact_id, score, updated_at) VALUES ($1, $2, now())
					ON CONFLICT (contact_id) DO UPDATE SET score = ceiling_scores.score + $2, updated_at = now()`, ev.ContactID, points)
				b.Queue(`INSERT INTO ceiling_ledger (contact_id, points, event_id, at) VALUES ($1, $2, $3, now())`, ev.ContactID, points, ev.ID)
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
	}
	return nil
}

// baselineWorkflowID is the workflow id of an event (naive) or a contact
// (entity) in one phase.
func baselineWorkflowID(system, phase, id string) string {
	return strings.Join([]string{"bench", system, phase, id}, "/")
}
