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
