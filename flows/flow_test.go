package flows

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFlowHelpers(t *testing.T) {
	t.Parallel()
	f := &Flow{Steps: []Step{
		{ID: "a", Type: StepAddTag, Tag: "x"},
		{ID: "b", Type: StepLeadScore, Next: "d"},
		{ID: "c", Type: StepCondition, Then: "a", Else: "end"},
		{ID: "d", Type: StepWaitForEvent, OnEvent: "e", OnTimeout: "end"},
		{ID: "e", Type: StepExit},
		{ID: "f", Type: StepWait},
	}}
	require.Equal(t, "b", f.NextOf(0))
	require.Equal(t, "d", f.NextOf(1))
	require.Equal(t, "", f.NextOf(2))
	require.Equal(t, "", f.NextOf(3))
	require.Equal(t, EndStep, f.NextOf(4))
	require.Equal(t, EndStep, f.NextOf(5))
	require.Equal(t, "", f.NextOf(6))
	require.Equal(t, "", f.NextOf(-1))

	require.Equal(t, &f.Steps[2], f.Step("c"))
	require.Nil(t, f.Step("end"))
	require.Nil(t, f.Step("zz"))
	require.Equal(t, 3, f.StepIndex("d"))
	require.Equal(t, -1, f.StepIndex("zz"))

	actions := map[string]bool{}
	waits := map[string]bool{}
	for _, typ := range stepTypes {
		s := &Step{Type: typ}
		actions[typ] = s.IsAction()
		waits[typ] = s.IsWait()
	}
	require.Equal(t, map[string]bool{
		StepLeadScore: true, StepAddTag: true, StepRemoveTag: true, StepDisqualify: true, StepUpdateField: true,
		StepSetStage: true, StepCreateCRMTask: true, StepWebhook: true,
		StepCondition: false, StepWait: false, StepWaitUntil: false, StepWaitForEvent: false, StepExit: false, StepDigest: false,
	}, actions)
	require.Equal(t, map[string]bool{
		StepLeadScore: false, StepAddTag: false, StepRemoveTag: false, StepDisqualify: false, StepUpdateField: false,
		StepSetStage: false, StepCreateCRMTask: false, StepWebhook: false,
		StepCondition: false, StepWait: true, StepWaitUntil: true, StepWaitForEvent: true, StepExit: false, StepDigest: false,
	}, waits)

	require.True(t, f.HasDurableSteps())
	require.False(t, (&Flow{Steps: []Step{{Type: StepAddTag}, {Type: StepCondition}}}).HasDurableSteps())
}
