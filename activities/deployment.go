package activities

import (
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
)

// checkDeployment refuses work that belongs to another leadflow deployment:
// two deployments (two databases) share this worker's Temporal task queue,
// and applying the other one's partitions, runs or deliveries here would
// write them into the wrong database. The refusal is not retried (no worker
// of this deployment will ever accept the work) and touches nothing: it
// compares with the identity read once when the worker started.
//
// Work that names no deployment comes from histories recorded before
// deployments had an identity; it is accepted as local, so that runs in
// flight keep working. An Activities without a Deployment checks nothing.
func (a *Activities) checkDeployment(activity, work string) error {
	if work == "" || a.Deployment.ID == "" || work == a.Deployment.ID {
		return nil
	}
	msg := fmt.Sprintf("%s refused: the work belongs to leadflow deployment %s, but this worker serves deployment %s (database %q); "+
		"two deployments share task queue %q: give each its own task queue (LEADFLOW_TASK_QUEUE) or Temporal namespace",
		activity, work, a.Deployment.ID, a.Deployment.Database, a.TaskQueue)
	a.Log.Error().Str("activity", activity).Str("work_deployment", work).Str("deployment", a.Deployment.ID).
		Str("task_queue", a.TaskQueue).Msg("refused work of another deployment")
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrForeignDeployment, nil, work, a.Deployment.ID)
}
