package api_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
)

const siteOrigin = "https://www.site.example"

func TestCORSOnBrowserRoutesOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	preflight := func(path, headers string) resp {
		req := httptest.NewRequest("OPTIONS", path, nil)
		req.Header.Set("Origin", siteOrigin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		return e.send(req)
	}
	for _, p := range []string{"/v1/t", "/v1/p", "/v1/i", "/v1/b", "/v1/batch", "/v1/track", "/v1/projects/" + ingestKey + "/settings"} {
		r := preflight(p, "authorization,x-retry-count")
		require.Equal(t, 204, r.code, p)
		require.Equal(t, siteOrigin, r.header.Get("Access-Control-Allow-Origin"), p)
		require.Contains(t, r.header.Get("Access-Control-Allow-Methods"), "POST")
		require.Equal(t, "authorization,x-retry-count", r.header.Get("Access-Control-Allow-Headers"))
		require.Empty(t, r.header.Get("Access-Control-Allow-Credentials"))
		require.Contains(t, r.header.Values("Vary"), "Origin")
	}
	// Admin routes, the native route and the providers' webhooks get no CORS.
	for _, p := range []string{"/v1/leads", "/v1/contacts", "/v1/definitions", "/v1/events", "/v1/integrations/sendgrid"} {
		r := preflight(p, "")
		require.Empty(t, r.header.Get("Access-Control-Allow-Origin"), p)
		require.Equal(t, 405, r.code, p)
		req := httptest.NewRequest("GET", "/v1/leads", nil)
		req.Header.Set("Origin", siteOrigin)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		r = e.send(req)
		require.Equal(t, 200, r.code)
		require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
	}

	// analytics-next's request: text/plain, the write key in the body only.
	req := httptest.NewRequest("POST", "/v1/p", strings.NewReader(`{"type": "page", "anonymousId": "anon-7", "messageId": "ajs-next-1",
		"properties": {"url": "https://www.site.example/pricing"}, "writeKey": "`+ingestKey+`", "sentAt": "2025-03-01T11:59:59Z"}`))
	req.Header.Set("Origin", siteOrigin)
	req.Header.Set("Content-Type", "text/plain")
	r := e.send(req)
	require.Equal(t, 200, r.code, "body: %s", r.body)
	require.Equal(t, siteOrigin, r.header.Get("Access-Control-Allow-Origin"))
	ev := e.event("ajs-next-1")
	require.Equal(t, "anon-7", ev.ContactID, "anonymous ids are kept")
	require.Equal(t, "page_visited", ev.Type)

	// A wrong write key in the body, or none.
	for _, body := range []string{`{"type": "page", "anonymousId": "a", "writeKey": "nope"}`, `{"type": "page", "anonymousId": "a"}`} {
		req = httptest.NewRequest("POST", "/v1/p", strings.NewReader(body))
		req.Header.Set("Origin", siteOrigin)
		r = e.send(req)
		require.Equal(t, 401, r.code, body)
		require.Equal(t, siteOrigin, r.header.Get("Access-Control-Allow-Origin"), "the page can read why")
	}

	// A page carrying the admin key still only sends events: a group call's
	// traits are not applied.
	req = httptest.NewRequest("POST", "/v1/g", strings.NewReader(`{"userId": "u1", "groupId": "acme", "messageId": "g-1", "traits": {"name": "Acme"}, "writeKey": "`+adminKey+`"}`))
	req.Header.Set("Origin", siteOrigin)
	r = e.send(req)
	require.Equal(t, 200, r.code, "body: %s", r.body)
	require.Contains(t, string(r.body), "account traits need the admin key")
}

func TestBrowserSettingsAndOrigins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.BrowserOrigins = []string{siteOrigin + "/"} })
	req := httptest.NewRequest("GET", "/v1/projects/"+ingestKey+"/settings", nil)
	req.Host = "leadflow.example.com"
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Origin", siteOrigin)
	r := e.send(req)
	require.Equal(t, 200, r.code, "body: %s", r.body)
	var settings struct {
		Integrations map[string]struct {
			APIKey   string `json:"apiKey"`
			APIHost  string `json:"apiHost"`
			Protocol string `json:"protocol"`
		} `json:"integrations"`
	}
	require.NoError(t, json.Unmarshal(r.body, &settings))
	require.Equal(t, "leadflow.example.com/v1", settings.Integrations["Segment.io"].APIHost)
	require.Equal(t, "https", settings.Integrations["Segment.io"].Protocol)
	require.Equal(t, ingestKey, settings.Integrations["Segment.io"].APIKey)
	require.Equal(t, siteOrigin, r.header.Get("Access-Control-Allow-Origin"))

	require.Equal(t, 403, e.do("GET", "/v1/projects/"+adminKey+"/settings", "", nil).code, "the admin key never goes in a page")
	require.Equal(t, 404, e.do("GET", "/v1/projects/other/settings", "", nil).code)

	// Another site's pages are refused, preflight and request alike.
	for _, method := range []string{"OPTIONS", "POST"} {
		req = httptest.NewRequest(method, "/v1/t", strings.NewReader(`{"userId": "u", "event": "x", "writeKey": "`+ingestKey+`"}`))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		r = e.send(req)
		require.Equal(t, 403, r.code, method)
		require.Empty(t, r.header.Get("Access-Control-Allow-Origin"))
	}
	require.Zero(t, e.count(`SELECT count(*) FROM events`))
}
