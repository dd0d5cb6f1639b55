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

// RenderURL renders a webhook URL template. Every value is
// percent-escaped — all but the unreserved characters A-Z a-z 0-9 - . _ ~ —
// so a value only ever adds text to the path or query segment it stands
// in: a contact field holding "@127.0.0.1:8080/x" or "a&admin=1" can
// neither move the request to another host nor add a parameter. (Publishing
// refuses templates in a URL's scheme, host or port.)
func RenderURL(tmpl string, ct *Contact) string {
	return renderEach(tmpl, ct, escapeURLValue)
}

// RenderHeader renders a webhook header value template; control characters
// in the values (line breaks, NUL) become spaces, so a value can't add a
// header or break the request.
func RenderHeader(tmpl string, ct *Contact) string {
	return renderEach(tmpl, ct, func(v string) string {
		return strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return ' '
			}
			return r
		}, v)
	})
}

func renderEach(tmpl string, ct *Contact, escape func(string) string) string {
	if !strings.Contains(tmpl, "{{") {
		return tmpl
	}
	if ct == nil {
		ct = &Contact{}
	}
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		return escape(templateValue(placeholder.FindStringSubmatch(m)[1], ct))
	})
}

func escapeURLValue(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
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
