package contract

// Workflow, signal and activity names registered with Temporal.
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
	ActivityGiveUpDelivery = "GiveUpDelivery"
)

// Error types of activity failures that are not retried.
const (
	// ErrForeignDeployment: the activity refused work naming another
	// leadflow deployment (two deployments share a task queue); no worker
	// of this deployment will ever accept it.
	ErrForeignDeployment = "ForeignDeployment"
	// ErrPermanentApply: a batch failed as a whole for a reason retrying
	// cannot fix (events that fail are quarantined inside the activity and
	// never get here).
	ErrPermanentApply = "PermanentApplyFailure"
	// ErrPermanentResume: a run's resume failed and could not even be
	// recorded as failed.
	ErrPermanentResume = "PermanentResumeFailure"
	// ErrPermanentDelivery: a delivery failed for good (a refused address,
	// a redirect, a 4xx other than 408, 409, 425 and 429).
	ErrPermanentDelivery = "PermanentDeliveryFailure"
)

// Error types of activity failures that are retried.
const (
	// ErrPartitionBusy: an OwnPartition attempt did not take its partition:
	// its lock is held elsewhere (an owner that has not noticed it was
	// replaced), or a less loaded worker should take it.
	ErrPartitionBusy = "PartitionBusy"
	// ErrOwnerGone: a worker failed the OwnPartition activity of an owner
	// whose lock connection is gone (its worker died or froze), so that
	// Temporal runs it elsewhere without waiting for the heartbeat timeout.
	ErrOwnerGone = "PartitionOwnerGone"
)
