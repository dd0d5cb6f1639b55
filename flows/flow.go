package flows

// Step returns the step with the id, or nil (also for "end").
func (f *Flow) Step(id string) *Step {
	for i := range f.Steps {
		if f.Steps[i].ID == id {
			return &f.Steps[i]
		}
	}
	return nil
}

// StepIndex returns the position of the step with the id, or -1.
func (f *Flow) StepIndex(id string) int {
	for i := range f.Steps {
		if f.Steps[i].ID == id {
			return i
		}
	}
	return -1
}

// NextOf resolves where the run goes after the step at index i: its
// explicit Next, else the id of the following step, else "end" (after the
// last step). An exit step goes to "end". Branching steps (condition,
// wait_for_event) have no next: NextOf returns "" for them, and for an
// index out of range; use Then/Else or OnEvent/OnTimeout.
func (f *Flow) NextOf(i int) string {
	if i < 0 || i >= len(f.Steps) {
		return ""
	}
	s := &f.Steps[i]
	switch s.Type {
	case StepExit:
		return EndStep
	case StepCondition, StepWaitForEvent:
		return ""
	}
	if s.Next != "" {
		return s.Next
	}
	if i+1 < len(f.Steps) {
		return f.Steps[i+1].ID
	}
	return EndStep
}

// IsAction reports whether the step changes the contact or the outside
// world: lead_score, add_tag, remove_tag, disqualify, update_field,
// set_stage, create_crm_task, webhook.
func (s *Step) IsAction() bool {
	switch s.Type {
	case StepLeadScore, StepAddTag, StepRemoveTag, StepDisqualify, StepUpdateField,
		StepSetStage, StepCreateCRMTask, StepWebhook:
		return true
	}
	return false
}

// IsWait reports whether the step waits for time or an event: wait,
// wait_until, wait_for_event.
func (s *Step) IsWait() bool {
	switch s.Type {
	case StepWait, StepWaitUntil, StepWaitForEvent:
		return true
	}
	return false
}

// HasDurableSteps reports whether the flow has a wait, wait_until or
// wait_for_event step, so that a run needs a workflow of its own.
func (f *Flow) HasDurableSteps() bool {
	for i := range f.Steps {
		if f.Steps[i].IsWait() {
			return true
		}
	}
	return false
}
