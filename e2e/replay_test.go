package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	leadworker "github.com/leadflow/leadflow/worker"
)

func protoJSON(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

func replayHistory(t *testing.T, path string) {
	r := worker.NewWorkflowReplayer()
	leadworker.RegisterWorkflows(r)
	require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, path))
}
