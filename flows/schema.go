package flows

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// SchemaID is the $id of the generated JSON Schema.
const SchemaID = "https://github.com/leadflow/leadflow/flows/schema/leadflow.schema.json"

// JSONSchema returns a JSON Schema (draft 2020-12) for definition files —
// one document or an array of them — generated from the Go types: required
// fields are those without omitempty/omitzero, enums come from the
// validate "oneof" tags, durations are strings with a pattern, objects take
// no additional properties, and steps and triggers take only the fields of
// their type. Editors can use it through a top-level "$schema" field, which
// documents may carry and the decoder ignores. The schema helps editing;
// Validate remains the authority (references, graphs and other semantic
// rules are not in the schema).
func JSONSchema() ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	for _, t := range []reflect.Type{flowType, segmentType, scoreModelType} {
		g.ref(t)
	}
	g.defs["Duration"] = map[string]any{
		"type":        "string",
		"pattern":     `^[0-9]+[smhdw]$`,
		"description": `An integer and one unit: s, m, h, d (24h) or w (7d), e.g. "90s", "15m", "12h", "60d", "2w".`,
	}
	g.defs["Offset"] = map[string]any{
		"type":        "string",
		"pattern":     `^-?[0-9]+[smhdw]$`,
		"description": `A duration that may be negative ("-3d": three days before).`,
	}
	g.defs["Entry"] = map[string]any{
		"description": `How often one contact may enter the flow: "once", "every_time" or {"once_per": "30d"}.`,
		"oneOf": []any{
			map[string]any{"enum": []string{EntryOnce, EntryEveryTime}},
			map[string]any{
				"type":                 "object",
				"properties":           map[string]any{EntryOncePer: map[string]any{"$ref": "#/$defs/Duration"}},
				"required":             []string{EntryOncePer},
				"additionalProperties": false,
			},
		},
	}
	g.defs["Document"] = map[string]any{
		"oneOf": []any{
			map[string]any{"$ref": "#/$defs/Flow"},
			map[string]any{"$ref": "#/$defs/Segment"},
			map[string]any{"$ref": "#/$defs/ScoreModel"},
		},
	}
	root := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaID,
		"title":       "leadflow definitions",
		"description": "A leadflow definition file: one flow, segment or score_model document, or an array of them.",
		"oneOf": []any{
			map[string]any{"$ref": "#/$defs/Document"},
			map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"$ref": "#/$defs/Document"}},
		},
		"$defs": g.defs,
	}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

type schemaGen struct {
	defs map[string]any
}

var schemaDescriptions = map[string]string{
	"Flow":                "A flow: a trigger leading through steps.",
	"Segment":             "A segment: a named rule over contact state.",
	"ScoreModel":          "A score model: profile and engagement rules, decay, bands and thresholds.",
	"Conversion":          `What converts a contact in this model, the first time it happens: an "event" (by default "deal_won", its value in "value_property") or the contact's "stage" being set (e.g. "customer").`,
	"Trigger":             "The event that starts a flow or gives an engagement rule's points; the fields allowed depend on type.",
	"Step":                "One step of a flow; the fields allowed depend on type.",
	"Condition":           "A rule over a contact: exactly one of all, any, not, field (with op and value), tag, segment, score, band, events.",
	"Step.next":           `The step to go to afterwards (a step id or "end"); by default the following step.`,
	"Step.time_of_day":    `"HH:MM" in the contact's time zone (field "timezone").`,
	"Trigger.url":         `A glob ("*/pricing*") or, without '*', a URL prefix.`,
	"Step.url":            `webhook (digest: a fixed URL): the http(s) URL to POST to; templates ("{{email}}") only in its path or query, where their values are percent-escaped.`,
	"Step.headers":        `webhook: extra request headers; values are templates. Content-Type, Host, Idempotency-Key, webhook-* and hop-by-hop headers are set by leadflow.`,
	"Trigger.cron":        `schedule: five-field cron "minute hour day-of-month month day-of-week" in the trigger's time zone, e.g. "0 9 * * 1-5".`,
	"Trigger.timezone":    `schedule: the IANA time zone the cron is read in, e.g. "Europe/Rome"; daylight-saving changes keep the local time.`,
	"Step.top":            `digest: how many leads to send (the highest scores of the model), 1 to 1000.`,
	"Step.band":           `digest: only leads in one of these bands of the model, e.g. ["hot"].`,
	"Step.segment":        `digest: only leads in this segment.`,
	"Step.owner_field":    `digest: the contact field holding the lead's owner; one CRM task per owner lists their leads.`,
	"Step.group_by_owner": `digest: group the webhook's leads by owner (needs owner_field).`,
	"Step.envelope":       `webhook: false sends body as the whole request body (e.g. Slack's {"text": ...}); by default body goes under "data" with the contact, flow and step.`,
}

// ref returns a schema for a struct type, adding its definition.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name := t.Name()
	if _, ok := g.defs[name]; !ok {
		g.defs[name] = nil // placeholder against recursion
		g.defs[name] = g.object(t)
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, optional, ok := jsonName(f)
		if !ok {
			continue
		}
		s := g.field(t, f, name)
		if d := schemaDescriptions[t.Name()+"."+name]; d != "" {
			s["description"] = d
		}
		props[name] = s
		if !optional {
			required = append(required, name)
		}
	}
	switch t {
	case flowType, segmentType, scoreModelType:
		props["$schema"] = map[string]any{"type": "string", "description": "The JSON Schema of the file (ignored by leadflow)."}
	}
	obj := map[string]any{
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		obj["required"] = required
	}
	if d := schemaDescriptions[t.Name()]; d != "" {
		obj["description"] = d
	}
	switch t {
	case stepType:
		obj["allOf"] = typeRules(t, stepTypes, stepSpecs, []string{"id", "type"})
	case triggerType:
		obj["allOf"] = typeRules(t, triggerTypes, triggerSpecs, []string{"type"})
	case reflect.TypeFor[Condition]():
		var forms []any
		for _, form := range conditionForms {
			forms = append(forms, map[string]any{"required": []string{form}})
		}
		obj["oneOf"] = forms
	}
	return obj
}

// typeRules says, per type, which fields are required and which are not
// allowed.
func typeRules(t reflect.Type, types []string, specs map[string]typeSpec, common []string) []any {
	var out []any
	all := fieldNames(t)
	for _, typ := range types {
		spec := specs[typ]
		var req []string
		forbidden := map[string]any{}
		for _, f := range spec.fields {
			if f.required {
				req = append(req, f.name)
			}
		}
		for _, name := range all {
			if !slices.Contains(common, name) && !spec.has(name) {
				forbidden[name] = false
			}
		}
		then := map[string]any{}
		if len(req) > 0 {
			then["required"] = req
		}
		if len(forbidden) > 0 {
			then["properties"] = forbidden
		}
		if typ == StepWaitUntil {
			then["oneOf"] = []any{
				map[string]any{"required": []string{"field"}},
				map[string]any{"required": []string{"time_of_day"}},
			}
		}
		out = append(out, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": typ}}, "required": []string{"type"}},
			"then": then,
		})
	}
	return out
}

func (g *schemaGen) field(parent reflect.Type, f reflect.StructField, name string) map[string]any {
	s := g.typeSchema(f.Type, name)
	if parent == stepType && name == "time_of_day" {
		s["pattern"] = timeOfDayPattern.String()
	}
	if parent == reflect.TypeFor[Threshold]() && name == "actions" {
		s["items"] = map[string]any{
			"allOf": []any{
				map[string]any{"$ref": "#/$defs/Step"},
				map[string]any{"properties": map[string]any{
					"type": map[string]any{"enum": actionStepTypes},
					"next": false,
				}},
			},
		}
	}
	for _, rule := range strings.Split(f.Tag.Get("validate"), ",") {
		key, param, _ := strings.Cut(rule, "=")
		switch key {
		case "oneof":
			s["enum"] = strings.Fields(param)
		case "eq":
			s["const"] = param
		case "docid", "stepid":
			s["pattern"] = idPattern.String()
		case "max":
			if n, err := strconv.Atoi(param); err == nil && f.Type.Kind() == reflect.String {
				s["maxLength"] = n
			}
		case "min":
			if n, err := strconv.Atoi(param); err == nil && f.Type.Kind() == reflect.Slice {
				s["minItems"] = n
			}
		case "gte":
			if n, err := strconv.Atoi(param); err == nil {
				s["minimum"] = n
			}
		case "required":
			if f.Type.Kind() == reflect.String {
				s["minLength"] = 1
			}
		}
	}
	return s
}

func (g *schemaGen) typeSchema(t reflect.Type, name string) map[string]any {
	switch t {
	case durationType:
		if name == "offset" {
			return map[string]any{"$ref": "#/$defs/Offset"}
		}
		return map[string]any{"$ref": "#/$defs/Duration"}
	case entryType:
		return map[string]any{"$ref": "#/$defs/Entry"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.typeSchema(t.Elem(), name)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.typeSchema(t.Elem(), name)}
	case reflect.Struct:
		return g.ref(t)
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.typeSchema(t.Elem(), name)}
	}
	return map[string]any{} // any JSON value
}
