package contract

// RunStatus is a flow run's status (flow_runs.status).
type RunStatus string

// Run statuses. Running and waiting runs are active; the others are final.
const (
	RunRunning   RunStatus = "running"
	RunWaiting   RunStatus = "waiting"
	RunCompleted RunStatus = "completed" // reached the end of its steps
	RunExited    RunStatus = "exited"    // an exit step, or the step limit
	RunFailed    RunStatus = "failed"    // its resume failed for good
	RunCancelled RunStatus = "cancelled" // its contact was erased
)

// Active reports whether a run with this status may still change.
func (s RunStatus) Active() bool { return s == RunRunning || s == RunWaiting }
