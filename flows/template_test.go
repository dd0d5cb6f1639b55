package flows

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRenderTemplate(t *testing.T) {
	t.Parallel()
	ct := testContact()
	ct.Scores["fit"] = 12.345
	ct.Fields["seats"] = float64(25)
	ct.Fields["trial"] = true
	ct.Fields["langs"] = []any{"en", "it"}
	ct.Fields["nothing"] = nil
	cases := map[string]string{
		"Call {{email}}": "Call Ada@Example.COM",
		"{{contact_id}}/{{stage}}/{{account_id}}":      "c1/lead/acme",
		"{{ email_domain }}":                           "example.com",
		"{{fields.plan}} plan, {{fields.seats}} seats": "pro plan, 25 seats",
		"{{fields.company.name}}":                      "Acme",
		"{{fields.company}}":                           `{"name":"Acme","size":120}`,
		"{{fields.langs}}":                             `["en","it"]`,
		"{{fields.trial}}":                             "true",
		"{{fields.nothing}}|{{fields.missing}}":        "|",
		"score {{score.main}} / {{score.fit}}":         "score 42 / 12.35",
		"{{score.none}}":                               "",
		"{{unknown}} and {{}}":                         " and ",
		"no placeholders":                              "no placeholders",
		"{{email":                                      "{{email",
		"{ {email}}":                                   "{ {email}}",
		"{{{email}}}":                                  "{Ada@Example.COM}",
	}
	for in, want := range cases {
		require.Equal(t, want, RenderTemplate(in, ct), in)
	}
	require.Equal(t, "x ", RenderTemplate("x {{email}}", nil))
}

func TestRenderJSON(t *testing.T) {
	t.Parallel()
	ct := testContact()
	body := map[string]any{
		"email":  "{{email}}",
		"{{id}}": "keys are not rendered",
		"list":   []any{"{{fields.plan}}", 1.5, true, nil, map[string]any{"s": "{{score.main}}"}},
		"n":      2.0,
	}
	got := RenderJSON(body, ct)
	require.Equal(t, map[string]any{
		"email":  "Ada@Example.COM",
		"{{id}}": "keys are not rendered",
		"list":   []any{"pro", 1.5, true, nil, map[string]any{"s": "42"}},
		"n":      2.0,
	}, got)
	require.Equal(t, "{{email}}", body["email"], "the input is not changed")
	require.Equal(t, "c1", RenderJSON("{{contact_id}}", ct))
	require.Nil(t, RenderJSON(nil, ct))
}
