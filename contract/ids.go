package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"unicode/utf8"
)

// PartitionWorkflowID is the workflow id of a partition. Workflow ids start
// with the task queue, so that several leadflow deployments (or tests) can
// share a namespace.
func PartitionWorkflowID(taskQueue string, partition int) string {
	return taskQueue + "/partition-" + strconv.Itoa(partition)
}

// WorkflowID is the full workflow id of a run or delivery whose id within a
// deployment (the outbox row's workflow_id) is localID.
func WorkflowID(taskQueue, localID string) string {
	return taskQueue + "/" + localID
}

// RunWorkflowID is the workflow id of a flow run within a deployment (the
// dispatcher prefixes it with the task queue, WorkflowID). Run ids contain
// the contact id, free text of any length: past maxWorkflowIDPart bytes the
// id is shortened with a hash of the whole (boundedID), so Temporal never
// refuses it. Shorter ids are unchanged, so runs in flight keep their
// workflow.
func RunWorkflowID(runID string) string { return boundedID("run/" + runID) }

// DeliveryWorkflowPrefix starts the workflow id of a delivery within a
// deployment; the delivery's id follows (DeliveryWorkflowID). The store
// builds the same id in SQL from this prefix.
const DeliveryWorkflowPrefix = "delivery-"

// DeliveryWorkflowID is the workflow id of a delivery within a deployment.
func DeliveryWorkflowID(deliveryID int64) string {
	return DeliveryWorkflowPrefix + strconv.FormatInt(deliveryID, 10)
}

// maxWorkflowIDPart bounds the part of a workflow id derived from free-text
// ids; Temporal refuses ids past its limit (1,000 bytes by default), and
// the task queue comes in front.
const maxWorkflowIDPart = 200

// boundedID returns id unchanged when it has at most maxWorkflowIDPart
// bytes, else a prefix of it, "~" and the SHA-256 of the whole (hex, 32
// characters): still unique, readable and bounded.
func boundedID(id string) string {
	if len(id) <= maxWorkflowIDPart {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	cut := maxWorkflowIDPart - 33
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return id[:cut] + "~" + hex.EncodeToString(sum[:16])
}
