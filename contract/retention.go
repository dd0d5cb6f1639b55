package contract

// Names of the event retention sweep registered with Temporal.
const (
	RetentionWorkflowName = "RetentionSweepWorkflow"
	ActivitySweepEvents   = "SweepEvents"
)

// RetentionScheduleID is the id of the Temporal Schedule that starts the
// retention sweep of a task queue's deployment.
func RetentionScheduleID(taskQueue string) string { return taskQueue + "/retention" }

// RetentionWorkflowID is the id of the sweep workflows the schedule starts.
func RetentionWorkflowID(taskQueue string) string { return taskQueue + "/retention-sweep" }

// RetentionInput is the input of RetentionSweepWorkflow and of the
// SweepEvents activity.
type RetentionInput struct {
	Deployment string `json:"deployment,omitempty"` // see Wait
}

// SweepResult is what one sweep did: how many applied events older than
// the horizon it deleted, or why it refused to delete any (a published
// definition reads further back than the horizon).
type SweepResult struct {
	Deleted int64  `json:"deleted"`
	Refused string `json:"refused,omitempty"`
}
