// Package worker wires leadflow's workflows and activities into a Temporal
// worker, and keeps the partition workflows running. Worker processes are
// stateless: any number of them can share a task queue.
package worker

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/workflows"
)

// DefaultTaskQueue is the task queue leadflow uses when LEADFLOW_TASK_QUEUE is not set.
const DefaultTaskQueue = "leadflow"

// New returns a Temporal worker with every leadflow workflow and activity
// registered. When acts has no PartitionOwners it gets one (named by
// opts.Identity), started and stopped with the worker: its lock connection
// marks the worker live for the balance of partitions from Start to Stop.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts sdkworker.Options) sdkworker.Worker {
	if opts.Identity == "" {
		opts.Identity = Identity(acts.Deployment.ID)
	}
	if opts.MaxHeartbeatThrottleInterval == 0 {
		// Partition owners heartbeat for as long as they own: send one every
		// 3 s (not the SDK's 80% of the 10 s timeout), so that one slow call
		// to a busy Temporal server does not time an owner out. (The SDK
		// gives each call this long.)
		opts.MaxHeartbeatThrottleInterval = 3 * time.Second
	}
	if opts.WorkerStopTimeout == 0 {
		// A stopping worker's owners let their partitions go at once (the
		// worker stop channel) and report it: give the reports time to
		// reach Temporal, so the next owners start at once elsewhere.
		opts.WorkerStopTimeout = 5 * time.Second
	}
	w := sdkworker.New(c, taskQueue, opts)
	RegisterWorkflows(w)
	RegisterActivities(w, acts)
	if acts.Owners != nil {
		return w
	}
	acts.Owners = activities.NewPartitionOwners(acts.Store, c, opts.Identity, acts.Log)
	return &ownerWorker{Worker: w, owners: acts.Owners}
}

// ownerWorker is a Temporal worker with the partition ownership of its
// process: ownership starts before the worker polls and stops after its
// activities (the owners) ended.
type ownerWorker struct {
	sdkworker.Worker
	owners *activities.PartitionOwners
}

func (w *ownerWorker) Start() error {
	w.owners.Start()
	if err := w.Worker.Start(); err != nil {
		w.owners.Stop()
		return err
	}
	return nil
}

func (w *ownerWorker) Run(interruptCh <-chan any) error {
	w.owners.Start()
	defer w.owners.Stop()
	return w.Worker.Run(interruptCh)
}

func (w *ownerWorker) Stop() {
	w.Worker.Stop()
	w.owners.Stop()
}

// RegisterWorkflows registers the workflows under their durable names (on a
// worker, a test environment or a replayer).
func RegisterWorkflows(r interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
}) {
	r.RegisterWorkflowWithOptions(workflows.PartitionWorkflow, workflow.RegisterOptions{Name: contract.PartitionWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RunWorkflow, workflow.RegisterOptions{Name: contract.RunWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.DeliveryWorkflow, workflow.RegisterOptions{Name: contract.DeliveryWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RetentionSweepWorkflow, workflow.RegisterOptions{Name: contract.RetentionWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.DigestWorkflow, workflow.RegisterOptions{Name: contract.DigestWorkflowName})
}

// RegisterActivities registers the activities under their durable names.
func RegisterActivities(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}, acts *activities.Activities) {
	r.RegisterActivityWithOptions(acts.ApplyPartition, activity.RegisterOptions{Name: contract.ActivityApplyPartition})
	r.RegisterActivityWithOptions(acts.OwnPartition, activity.RegisterOptions{Name: contract.ActivityOwnPartition})
	r.RegisterActivityWithOptions(acts.ResumeRun, activity.RegisterOptions{Name: contract.ActivityResumeRun})
	r.RegisterActivityWithOptions(acts.Deliver, activity.RegisterOptions{Name: contract.ActivityDeliver})
	r.RegisterActivityWithOptions(acts.GiveUpDelivery, activity.RegisterOptions{Name: contract.ActivityGiveUpDelivery})
	r.RegisterActivityWithOptions(acts.SweepEvents, activity.RegisterOptions{Name: contract.ActivitySweepEvents})
	r.RegisterActivityWithOptions(acts.RunDigest, activity.RegisterOptions{Name: contract.ActivityRunDigest})
}

// EnsurePartitions starts every partition workflow that is not running (and
// wakes those that are). Those it starts carry the deployment id.
func EnsurePartitions(ctx context.Context, c client.Client, taskQueue, deployment string) error {
	for p := 0; p < store.Partitions; p++ {
		if err := wake(ctx, c, taskQueue, deployment, p); err != nil {
			return fmt.Errorf("error starting partition %d: %w", p, err)
		}
	}
	return nil
}

func wake(ctx context.Context, c client.Client, taskQueue, deployment string, p int) error {
	_, err := c.SignalWithStartWorkflow(ctx, contract.PartitionWorkflowID(taskQueue, p), contract.SignalWake, nil,
		client.StartWorkflowOptions{ID: contract.PartitionWorkflowID(taskQueue, p), TaskQueue: taskQueue,
			// A workflow task lost with a crashed Temporal server or worker is
			// handed out again after this, instead of Temporal's default 10 s.
			WorkflowTaskTimeout: workflows.PartitionWorkflowTaskTimeout},
		contract.PartitionWorkflowName, contract.PartitionInput{Partition: p, Deployment: deployment})
	return err
}
