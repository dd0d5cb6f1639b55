package contract

// CancelRun is the payload of a cancel_run outbox row: nothing but the
// deployment stamp. The run's workflow id is the row's workflow_id; the
// run itself was renamed and anonymised when its contact was erased.
type CancelRun struct {
	Deployment string `json:"deployment,omitempty"` // see Wait
}
