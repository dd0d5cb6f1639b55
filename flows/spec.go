package flows

// The tables below say which JSON fields each step type and each trigger
// type takes. Validation, the decoder's messages and the JSON Schema are all
// derived from them.

// fieldSpec is one field a type takes.
type fieldSpec struct {
	name     string
	required bool
}

// typeSpec lists the fields (besides id/type) of one step or trigger type.
type typeSpec struct {
	fields []fieldSpec
}

func (s typeSpec) fieldNames() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.name
	}
	return out
}

func (s typeSpec) has(name string) bool {
	for _, f := range s.fields {
		if f.name == name {
			return true
		}
	}
	return false
}

func req(name string) fieldSpec { return fieldSpec{name: name, required: true} }
func opt(name string) fieldSpec { return fieldSpec{name: name} }

// stepTypes in documentation order.
var stepTypes = []string{
	StepLeadScore, StepAddTag, StepRemoveTag, StepDisqualify, StepUpdateField,
	StepSetStage, StepCreateCRMTask, StepWebhook, StepCondition, StepWait,
	StepWaitUntil, StepWaitForEvent, StepExit, StepDigest,
}

var stepSpecs = map[string]typeSpec{
	StepLeadScore:     {[]fieldSpec{opt("next"), req("model"), req("op"), req("points"), opt("cap")}},
	StepAddTag:        {[]fieldSpec{opt("next"), req("tag")}},
	StepRemoveTag:     {[]fieldSpec{opt("next"), req("tag")}},
	StepDisqualify:    {[]fieldSpec{opt("next"), req("reason")}},
	StepUpdateField:   {[]fieldSpec{opt("next"), req("field"), opt("value")}},
	StepSetStage:      {[]fieldSpec{opt("next"), req("stage")}},
	StepCreateCRMTask: {[]fieldSpec{opt("next"), req("title"), opt("description"), opt("assignee"), opt("due_in")}},
	StepWebhook:       {[]fieldSpec{opt("next"), req("url"), opt("body"), opt("headers"), opt("envelope")}},
	StepCondition:     {[]fieldSpec{req("if"), req("then"), req("else")}},
	StepWait:          {[]fieldSpec{opt("next"), req("duration")}},
	// wait_until takes exactly one of field and time_of_day (checked apart).
	StepWaitUntil:    {[]fieldSpec{opt("next"), opt("field"), opt("offset"), opt("time_of_day")}},
	StepWaitForEvent: {[]fieldSpec{req("event"), opt("filters"), req("timeout"), req("on_event"), req("on_timeout")}},
	StepExit:         {nil},
	// digest runs in list order (schedule flows take digest steps only).
	StepDigest: {[]fieldSpec{req("model"), opt("band"), opt("segment"), req("top"), opt("group_by_owner"), opt("owner_field"), opt("url")}},
}

// actionStepTypes are the step types allowed in threshold actions.
var actionStepTypes = []string{
	StepAddTag, StepRemoveTag, StepDisqualify, StepUpdateField, StepSetStage,
	StepCreateCRMTask, StepWebhook,
}

// triggerTypes in documentation order.
var triggerTypes = []string{
	TriggerSegmentEntered, TriggerSegmentExited, TriggerEmailOpened,
	TriggerEmailClicked, TriggerEmailReplied, TriggerEmailUnsubscribed,
	TriggerEmailBounced, TriggerPageVisited, TriggerEvent, TriggerFieldChanged,
	TriggerTagAdded, TriggerTagRemoved, TriggerFormSubmitted,
	TriggerScoreThresholdCrossed, TriggerDateField, TriggerSchedule,
}

var triggerSpecs = map[string]typeSpec{
	TriggerSegmentEntered:        {[]fieldSpec{req("segment"), opt("filters")}},
	TriggerSegmentExited:         {[]fieldSpec{req("segment"), opt("filters")}},
	TriggerEmailOpened:           {[]fieldSpec{opt("filters")}},
	TriggerEmailClicked:          {[]fieldSpec{opt("filters")}},
	TriggerEmailReplied:          {[]fieldSpec{opt("filters")}},
	TriggerEmailUnsubscribed:     {[]fieldSpec{opt("filters")}},
	TriggerEmailBounced:          {[]fieldSpec{opt("filters")}},
	TriggerPageVisited:           {[]fieldSpec{opt("url"), opt("filters")}},
	TriggerEvent:                 {[]fieldSpec{req("event"), opt("filters")}},
	TriggerFieldChanged:          {[]fieldSpec{req("field"), opt("from"), opt("to"), opt("filters")}},
	TriggerTagAdded:              {[]fieldSpec{opt("tag"), opt("filters")}},
	TriggerTagRemoved:            {[]fieldSpec{opt("tag"), opt("filters")}},
	TriggerFormSubmitted:         {[]fieldSpec{opt("form"), opt("filters")}},
	TriggerScoreThresholdCrossed: {[]fieldSpec{req("model"), req("score"), opt("direction"), opt("filters")}},
	TriggerDateField:             {[]fieldSpec{req("field"), opt("offset"), opt("filters")}},
	TriggerSchedule:              {[]fieldSpec{req("cron"), req("timezone")}},
}

// requiredFieldHints say how to fill a field a step or trigger type needs.
var requiredFieldHints = map[string]string{
	"model":      `name a score model, e.g. "model": "main"`,
	"op":         `use "add", "subtract" or "set"`,
	"points":     `give the points, e.g. "points": 10`,
	"tag":        `name the tag, e.g. "tag": "hot-lead"`,
	"reason":     `say why, e.g. "reason": "student"`,
	"field":      `name the contact field, e.g. "field": "trial_ends_at"`,
	"stage":      `name the stage, e.g. "stage": "sql"`,
	"title":      `give the task a title, e.g. "title": "Call {{email}}"`,
	"url":        `give the http(s) URL to call`,
	"if":         `give the condition, e.g. "if": {"tag": "customer"}`,
	"then":       `name the step to go to when the condition holds (a step id or "end")`,
	"else":       `name the step to go to otherwise (a step id or "end")`,
	"duration":   `give how long to wait, e.g. "duration": "3d"`,
	"event":      `name the event, e.g. "event": "email_opened"`,
	"timeout":    `give how long to wait at most, e.g. "timeout": "7d"`,
	"on_event":   `name the step to go to when the event arrives (a step id or "end")`,
	"on_timeout": `name the step to go to when the timeout passes (a step id or "end")`,
	"segment":    `name the segment, e.g. "segment": "hot-leads"`,
	"score":      `give the threshold score, e.g. "score": 50`,
	"cron":       `give a five-field cron expression, e.g. "cron": "0 9 * * 1-5" (weekdays at 09:00)`,
	"timezone":   `name the IANA time zone the cron is read in, e.g. "timezone": "Europe/Rome"`,
	"top":        `give how many leads to send, e.g. "top": 20`,
}
