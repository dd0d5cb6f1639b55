package flows

import (
	"net/url"
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

func TestRenderURLEscapesValues(t *testing.T) {
	t.Parallel()
	ct := &Contact{ID: "c 1/2", Email: "ada+x@example.com", Fields: map[string]any{
		"evil": "@127.0.0.1:8080/x", "q": "a&admin=1#frag", "name": "Zoë", "dots": "../../admin"}}
	got := RenderURL("https://hooks.example.com/c/{{contact_id}}/{{fields.evil}}?e={{email}}&q={{fields.q}}&n={{fields.name}}&d={{fields.dots}}", ct)
	require.Equal(t, "https://hooks.example.com/c/c%201%2F2/%40127.0.0.1%3A8080%2Fx?e=ada%2Bx%40example.com&q=a%26admin%3D1%23frag&n=Zo%C3%AB&d=..%2F..%2Fadmin", got)
	u, err := url.Parse(got)
	require.NoError(t, err)
	require.Equal(t, "hooks.example.com", u.Host)
	require.Nil(t, u.User)
	require.Equal(t, "a&admin=1#frag", u.Query().Get("q"))
	require.Equal(t, "ada+x@example.com", u.Query().Get("e"))
	require.Len(t, u.Query(), 4)
	require.Equal(t, "", u.Fragment)

	// Even a template that puts a value where the host goes (publishing
	// refuses it; an old version might have it) cannot move the request.
	// The escaped host is not a valid host at all: the delivery fails.
	got = RenderURL("https://{{fields.evil}}.example.com/x", ct)
	require.Equal(t, "https://%40127.0.0.1%3A8080%2Fx.example.com/x", got)
	_, err = url.Parse(got)
	require.ErrorContains(t, err, "invalid URL escape")

	require.Equal(t, "https://x.example/plain", RenderURL("https://x.example/plain", ct))
}

func TestRenderHeaderDropsControlCharacters(t *testing.T) {
	t.Parallel()
	ct := &Contact{Email: "ada@example.com\r\nX-Injected: yes", Fields: map[string]any{"token": "abc"}}
	require.Equal(t, "lead ada@example.com  X-Injected: yes", RenderHeader("lead {{email}}", ct))
	require.Equal(t, "Bearer abc", RenderHeader("Bearer {{fields.token}}", ct))
}
