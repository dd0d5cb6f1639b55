package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/worker"
)

// loadDeployment reads the database's deployment identity into c.Deployment
// and logs which deployment, namespace and task queue this process serves.
func (c *config) loadDeployment(ctx context.Context, s *store.Store, log zerolog.Logger, role string) error {
	d, err := s.Deployment(ctx)
	if err != nil {
		return fmt.Errorf("error reading the deployment identity of database %q: %w", databaseName(c.DatabaseURL), err)
	}
	c.Deployment = d
	log.Info().Str("deployment", d.ID).Str("database", d.Database).Str("temporal_address", c.TemporalAddress).
		Str("namespace", c.Namespace).Str("task_queue", c.TaskQueue).
		Msgf("leadflow %s serves deployment %s (database %s) on Temporal namespace %q, task queue %q",
			role, d.ID, d.Database, c.Namespace, c.TaskQueue)
	return nil
}

// workerOptions are the Temporal worker options of this deployment: its
// identity names the deployment, so that other workers can tell whose
// pollers share their task queue.
func (c *config) workerOptions() sdkworker.Options {
	return sdkworker.Options{Identity: worker.Identity(c.Deployment.ID)}
}

// checkTaskQueue refuses to start a worker on a task queue that workers of
// another deployment poll (as far as Temporal can tell: pollers seen in the
// last five minutes whose identity names a deployment).
func (c *config) checkTaskQueue(ctx context.Context, tc client.Client, log zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unknown, err := worker.CheckTaskQueue(ctx, tc, c.Namespace, c.TaskQueue, c.Deployment.ID)
	if err != nil {
		return err
	}
	if len(unknown) > 0 {
		log.Warn().Strs("pollers", unknown).Str("task_queue", c.TaskQueue).
			Msg("the task queue has pollers that name no deployment (older leadflow workers or other programs); make sure they serve this database")
	}
	return nil
}
