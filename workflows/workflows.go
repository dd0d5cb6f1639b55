// Package workflows holds leadflow's Temporal workflow code. It is
// deterministic only: no I/O, no time.Now, no goroutines, no map iteration,
// no randomness. Every read and write of contact state happens in activities
// (package activities), which the workflows call by registered name; the
// evaluation logic lives there too, so it can change without breaking the
// replay of workflows in flight.
package workflows

import (
	"errors"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Workflow, signal and activity names. They are part of the durable
// contract with workflows in flight: never rename them.
const (
	PartitionWorkflowName = "PartitionWorkflow"
	RunWorkflowName       = "RunWorkflow"
	DeliveryWorkflowName  = "DeliveryWorkflow"

	SignalWake     = "wake"
	SignalRunEvent = "run-event"

	ActivityApplyPartition = "ApplyPartition"
	ActivityOwnPartition   = "OwnPartition"
	ActivityResumeRun      = "ResumeRun"
	ActivityDeliver        = "Deliver"
)

// ErrForeignDeployment is the error type of an activity that refused work
// naming another leadflow deployment (two deployments share a task queue):
// it is not retried, since no worker of this deployment will ever accept it.
const ErrForeignDeployment = "ForeignDeployment"

// ForeignDeployment reports whether err is an activity's refusal of work
// that belongs to another deployment: a workflow that gets one ends with it
// rather than waiting and trying again.
func ForeignDeployment(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == ErrForeignDeployment
}

// PartitionWorkflowID is the workflow id of a partition. Workflow ids start
// with the task queue, so that several leadflow deployments (or tests) can
// share a namespace.
func PartitionWorkflowID(taskQueue string, partition int) string {
	return taskQueue + "/partition-" + strconv.Itoa(partition)
}

// WorkflowID is the full workflow id of a run or delivery whose id within a
// deployment is localID.
func WorkflowID(taskQueue, localID string) string {
	return taskQueue + "/" + localID
}

// PartitionInput is the input of PartitionWorkflow.
type PartitionInput struct {
	Partition int `json:"partition"`
	// Deployment is the id of the leadflow deployment (its database) the
	// work belongs to; empty in histories from before deployments had one,
	// which the local deployment accepts.
	Deployment string `json:"deployment,omitempty"`
}

// ApplyInput is the input of the ApplyPartition activity.
type ApplyInput struct {
	Partition int `json:"partition"`
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}

// ApplyResult is what one ApplyPartition activity did.
type ApplyResult struct {
	Events  int        `json:"events"`
	Due     int        `json:"due"`
	More    bool       `json:"more"`
	NextDue *time.Time `json:"next_due,omitempty"`
}

// OwnInput is the input of the OwnPartition activity: the partition its
// owner applies until it hands it back.
type OwnInput struct {
	Partition int `json:"partition"`
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}

// Why an OwnPartition activity returned without an error.
const (
	// OwnHandedBack: the worker owned more than its share of the
	// partitions and handed this one back, for a less loaded worker.
	OwnHandedBack = "handed_back"
	// OwnLeaseEnded: the owner served its lease; the workflow starts the
	// next one (which any worker may take).
	OwnLeaseEnded = "lease_ended"
	// OwnWorkerStopping: the owner's worker is shutting down.
	OwnWorkerStopping = "worker_stopping"
)

// OwnResult is what one OwnPartition activity did before it returned.
type OwnResult struct {
	Reason  string `json:"reason"`
	Batches int    `json:"batches"`
	Events  int    `json:"events"`
}

// ErrPartitionBusy is the error type of an OwnPartition attempt that did
// not take its partition: its lock is held elsewhere (an owner that has
// not noticed it was replaced), or a less loaded worker should take it.
// It is retried.
const ErrPartitionBusy = "PartitionBusy"

// ErrOwnerGone is the error type with which a worker fails the OwnPartition
// activity of an owner whose lock is gone (its worker died), so that
// Temporal runs it elsewhere without waiting for the heartbeat timeout. It
// is retried.
const ErrOwnerGone = "PartitionOwnerGone"

// RunWait is a durable wait of a flow run: the input of RunWorkflow and the
// result of ResumeRun (nil when the run finished).
type RunWait struct {
	RunID   string    `json:"run_id"`
	WaitSeq int       `json:"wait_seq"`
	Kind    string    `json:"kind"` // "timer" or "event"
	Event   string    `json:"event,omitempty"`
	Until   time.Time `json:"until"`
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}

// RunSignal tells a run that the event it waits for arrived.
type RunSignal struct {
	WaitSeq int    `json:"wait_seq"`
	EventID string `json:"event_id"`
}

// ResumeInput is the input of the ResumeRun activity. Now is the workflow's
// time when the wait ended, so that tests that skip time see the time the
// workflow sees.
type ResumeInput struct {
	RunID   string    `json:"run_id"`
	WaitSeq int       `json:"wait_seq"`
	Outcome string    `json:"outcome"` // elapsed, timeout, event
	EventID string    `json:"event_id,omitempty"`
	Now     time.Time `json:"now"`
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}

// DeliveryInput is the input of DeliveryWorkflow and the Deliver activity.
type DeliveryInput struct {
	DeliveryID int64 `json:"delivery_id"`
	// RetryFor bounds the retries (0: DefaultDeliveryRetryFor); the
	// dispatcher sets it from the worker's configuration.
	RetryFor time.Duration `json:"retry_for,omitempty"`
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}
