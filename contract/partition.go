package contract

import "time"

// PartitionInput is the input of PartitionWorkflow.
type PartitionInput struct {
	Partition  int    `json:"partition"`
	Deployment string `json:"deployment,omitempty"` // see Wait
}

// ApplyInput is the input of the ApplyPartition activity.
type ApplyInput struct {
	Partition  int    `json:"partition"`
	Deployment string `json:"deployment,omitempty"` // see Wait
}

// BatchResult is what one ApplyPartition transaction did: the engine's
// result and the activity's.
type BatchResult struct {
	Partition int `json:"partition"`
	// Events is how many pending events the batch took: applied plus
	// quarantined (Failed).
	Events  int        `json:"events"`
	Failed  int        `json:"failed"`
	Due     int        `json:"due"`
	More    bool       `json:"more"`
	NextDue *time.Time `json:"next_due,omitempty"`
}

// OwnInput is the input of the OwnPartition activity: the partition its
// owner applies until it lets it go.
type OwnInput struct {
	Partition  int    `json:"partition"`
	Deployment string `json:"deployment,omitempty"` // see Wait
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
