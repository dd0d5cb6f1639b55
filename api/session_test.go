package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
)

const viewerKey = "viewer-secret"

// signIn posts a key to /v1/session and returns the response.
func (e *env) signIn(key string) resp {
	e.t.Helper()
	return e.do("POST", "/v1/session", "", map[string]string{"key": key})
}

// withSession sends a request with the session cookie of r (a sign-in
// response) and the given extra headers.
func (e *env) withSession(signin resp, method, path, body string, headers ...string) resp {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for _, c := range (&http.Response{Header: signin.header}).Cookies() {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

func TestConsoleSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ViewerKey = viewerKey })

	// A wrong key signs nobody in and sets no cookie.
	r := e.signIn("not-a-key")
	require.Equal(t, 401, r.code, string(r.body))
	require.Empty(t, r.header.Values("Set-Cookie"))
	require.Equal(t, 401, e.signIn(ingestKey).code, "the ingest key is not a console key")

	// Without a session or key, the API refuses.
	require.Equal(t, 401, e.do("GET", "/v1/leads", "", nil).code)
	require.Equal(t, 401, e.do("GET", "/v1/session", "", nil).code)

	r = e.signIn(adminKey)
	require.Equal(t, 200, r.code, string(r.body))
	cookies := (&http.Response{Header: r.header}).Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	require.Equal(t, "leadflow_session", ck.Name)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.NotContains(t, ck.Value, adminKey, "the cookie never holds the key")
	body := r.json(t)
	require.Equal(t, "admin", body["role"])
	csrf, _ := body["csrf_token"].(string)
	require.NotEmpty(t, csrf)

	// Reads need only the cookie.
	require.Equal(t, 200, e.withSession(r, "GET", "/v1/leads", "").code)
	got := e.withSession(r, "GET", "/v1/session", "")
	require.Equal(t, 200, got.code)
	require.Equal(t, csrf, got.json(t)["csrf_token"])

	// Changes need the anti-CSRF token and a same-site Origin.
	r2 := e.withSession(r, "POST", "/v1/definitions/nope/pause", "")
	require.Equal(t, 403, r2.code, string(r2.body))
	require.Contains(t, string(r2.body), "X-CSRF-Token")
	r2 = e.withSession(r, "POST", "/v1/definitions/nope/pause", "", "X-CSRF-Token", "forged")
	require.Equal(t, 403, r2.code)
	r2 = e.withSession(r, "POST", "/v1/definitions/nope/pause", "", "X-CSRF-Token", csrf, "Origin", "https://evil.example")
	require.Equal(t, 403, r2.code)
	r2 = e.withSession(r, "POST", "/v1/definitions/nope/pause", "", "X-CSRF-Token", csrf, "Origin", "http://example.com")
	require.Equal(t, 404, r2.code, "authenticated: the definition is simply missing; %s", r2.body)

	// The ingest routes never accept the cookie.
	r2 = e.withSession(r, "POST", "/v1/events", `{"type": "x", "contact_id": "c"}`, "X-CSRF-Token", csrf)
	require.Equal(t, 401, r2.code, string(r2.body))

	// A tampered cookie is refused, not ignored.
	req := httptest.NewRequest("GET", "/v1/leads", nil)
	req.AddCookie(&http.Cookie{Name: "leadflow_session", Value: ck.Value[:len(ck.Value)-2] + "xx"})
	require.Equal(t, 401, e.send(req).code)

	// Sessions expire.
	e.now = e.now.Add(13 * time.Hour)
	require.Equal(t, 401, e.withSession(r, "GET", "/v1/leads", "").code)
	e.now = e.now.Add(-13 * time.Hour)

	// A viewer reads and changes nothing.
	v := e.signIn(viewerKey)
	require.Equal(t, 200, v.code)
	require.Equal(t, "viewer", v.json(t)["role"])
	vcsrf := v.json(t)["csrf_token"].(string)
	require.Equal(t, 200, e.withSession(v, "GET", "/v1/leads", "").code)
	r2 = e.withSession(v, "POST", "/v1/definitions/nope/pause", "", "X-CSRF-Token", vcsrf)
	require.Equal(t, 403, r2.code)
	require.Contains(t, string(r2.body), "viewer")

	// Sign-out clears the cookie.
	out := e.withSession(r, "DELETE", "/v1/session", "")
	require.Equal(t, 204, out.code)
	require.Contains(t, out.header.Get("Set-Cookie"), "Max-Age=0")
}

func TestViewerKeyUnsetSignsNobodyIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, 401, e.signIn(viewerKey).code, "no viewer key configured: none matches")
	require.Equal(t, 400, e.do("POST", "/v1/session", "", `{"key": ""}`).code)
}

func TestConsoleServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/ui/", "", nil)
	require.Equal(t, 200, r.code)
	require.Equal(t, api.ConsoleCSP, r.header.Get("Content-Security-Policy"))
	require.Contains(t, api.ConsoleCSP, "script-src 'self'")
	require.NotContains(t, api.ConsoleCSP, "unsafe-inline")
	require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	html := string(r.body)
	require.Contains(t, html, `<script type="module" crossorigin src="/ui/assets/app.js"></script>`)
	require.NotRegexp(t, `<script(?:\s[^>]*)?>[^<]`, html, "no inline script")

	js := e.do("GET", "/ui/assets/app.js", "", nil)
	require.Equal(t, 200, js.code)
	require.Contains(t, js.header.Get("Content-Type"), "javascript")
	require.Equal(t, api.ConsoleCSP, js.header.Get("Content-Security-Policy"))

	require.Equal(t, 301, e.do("GET", "/ui", "", nil).code)
	require.Equal(t, 404, e.do("GET", "/ui/nope.js", "", nil).code)
}
