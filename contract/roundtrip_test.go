package contract

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The outbox payloads the engine and the store write (golden files, as the
// database holds them after the deployment stamp) decode into the inputs
// the dispatcher hands to workflows and signals, with no field unknown and
// none lost: re-encoded, they are the same bytes.
func TestOutboxPayloadsRoundTripToWorkflowInputs(t *testing.T) {
	t.Parallel()
	cases := map[OutboxKind]func() any{
		OutboxStartRun:     func() any { return new(Wait) },
		OutboxSignalRun:    func() any { return new(RunSignal) },
		OutboxDeliver:      func() any { return new(DeliveryInput) },
		OutboxSyncSchedule: func() any { return new(ScheduleSync) },
		OutboxCancelRun:    func() any { return new(CancelRun) },
	}
	require.Len(t, cases, len(OutboxKinds()), "every outbox kind has a payload case")
	for _, kind := range OutboxKinds() {
		t.Run(string(kind), func(t *testing.T) {
			golden, err := os.ReadFile(filepath.Join("testdata", "payloads", string(kind)+".json"))
			require.NoError(t, err)
			v := cases[kind]()
			dec := json.NewDecoder(bytes.NewReader(golden))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(v), "the payload decodes into the workflow input")
			again, err := json.Marshal(v)
			require.NoError(t, err)
			require.JSONEq(t, string(golden), string(again), "nothing lost or renamed")
		})
	}
}

// What the engine returns as a run's next wait is what RunWorkflow takes
// as its input, and the resume input carries the wait's identity back.
func TestWaitRoundTrip(t *testing.T) {
	t.Parallel()
	w := Wait{RunID: "f:kim:1", WaitSeq: 3, Kind: WaitTimer, Until: time.Date(2027, 1, 2, 9, 0, 0, 0, time.UTC), Deployment: "dep_x"}
	b, err := json.Marshal(w)
	require.NoError(t, err)
	var back Wait
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, w, back)
	require.JSONEq(t, `{"run_id":"f:kim:1","wait_seq":3,"kind":"timer","until":"2027-01-02T09:00:00Z","deployment":"dep_x"}`, string(b))
}
