package flows

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// RenderTemplate replaces the placeholders of a CRM task title or
// description, or of a webhook body string, with the contact's values:
//
//	{{email}} {{contact_id}} {{stage}} {{account_id}} {{email_domain}}
//	{{fields.company}}   a custom field (dotted path into ct.Fields)
//	{{score.main}}       the contact's score in a model
//
// Spaces inside the braces are allowed. An unknown placeholder, or a field
// or score the contact does not have, renders as the empty string. Numbers
// render in their shortest form, arrays and objects as JSON.
func RenderTemplate(tmpl string, ct *Contact) string {
	if !strings.Contains(tmpl, "{{") {
		return tmpl
	}
	if ct == nil {
		ct = &Contact{}
	}
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		return templateValue(name, ct)
	})
}

func templateValue(name string, ct *Contact) string {
	switch name {
	case "email":
		return ct.Email
	case "contact_id":
		return ct.ID
	case "stage":
		return ct.Stage
	case "account_id":
		return ct.AccountID
	case "email_domain":
		return emailDomain(ct.Email)
	}
	if rest, ok := strings.CutPrefix(name, "fields."); ok {
		v, found := lookupPath(ct.Fields, rest)
		if !found {
			return ""
		}
		return formatValue(v)
	}
	if model, ok := strings.CutPrefix(name, "score."); ok {
		s, found := ct.Scores[model]
		if !found {
			return ""
		}
		return strconv.FormatFloat(RoundPoints(s), 'f', -1, 64)
	}
	return ""
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	if f, ok := toNumber(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// RenderJSON returns a copy of a JSON value (as decoded: maps, slices,
// strings, numbers, booleans, nil) with RenderTemplate applied to every
// string in it; object keys are left as they are.
func RenderJSON(v any, ct *Contact) any {
	switch x := v.(type) {
	case string:
		return RenderTemplate(x, ct)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = RenderJSON(e, ct)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = RenderJSON(e, ct)
		}
		return out
	}
	return v
}
