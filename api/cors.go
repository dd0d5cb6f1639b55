package api

// The website's tracking script: Segment's browser library
// (@segment/analytics-next, analytics.js) pointed at leadflow from a
// marketer's site, another origin. Only the browser routes answer CORS —
// the Segment routes, their one-letter forms that analytics-next posts to
// (/v1/t, /v1/i, /v1/p, /v1/s, /v1/g, /v1/a and /v1/b when batching) and
// the settings the library fetches (GET /v1/projects/{writeKey}/settings);
// the admin routes never do.
//
// analytics-next posts JSON with Content-Type text/plain (no preflight for
// the content type), the write key in the body ("writeKey") and, in recent
// versions, also as HTTP Basic; either is accepted. A page is public: the
// write key it carries can only send events (the ingest key); a request
// from a browser (an Origin header) never gets more than ingest access on
// these routes, whichever key it carries, and the settings are served for
// the ingest key only.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
)

// browserPaths are the POST routes a page may call.
var browserPaths = []string{
	"/v1/track", "/v1/identify", "/v1/page", "/v1/screen", "/v1/group", "/v1/alias", "/v1/batch",
	"/v1/t", "/v1/i", "/v1/p", "/v1/s", "/v1/g", "/v1/a", "/v1/b",
}

// isBrowserPath reports a route that answers CORS.
func isBrowserPath(p string) bool {
	if slices.Contains(browserPaths, p) {
		return true
	}
	rest, ok := strings.CutPrefix(p, "/v1/projects/")
	return ok && strings.HasSuffix(rest, "/settings") && strings.Count(rest, "/") == 1
}

// originAllowed reports whether pages of origin may call the browser
// routes: any origin when none is configured.
func (s *server) originAllowed(origin string) bool {
	if len(s.cfg.BrowserOrigins) == 0 {
		return true
	}
	for _, o := range s.cfg.BrowserOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// cors answers CORS on the browser routes: preflights (OPTIONS with
// Access-Control-Request-Method) with 204 and what may be sent, other
// requests with Access-Control-Allow-Origin. No cookies are used, so
// credentials are never allowed. Other routes pass through untouched.
func (s *server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !isBrowserPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		if !s.originAllowed(origin) {
			writeError(w, http.StatusForbidden, "pages of "+origin+" may not send events here: add the origin to LEADFLOW_BROWSER_ORIGINS")
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			allow := "Authorization, Content-Type, X-Retry-Count"
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" && headerList(req) {
				allow = req
			}
			h.Set("Access-Control-Allow-Headers", allow)
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerList reports a comma-separated list of header names (token
// characters only), safe to echo.
func headerList(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for _, c := range s {
		ok := c == ',' || c == ' ' || c == '-' || c == '_' || c == '.' ||
			c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// bodyWriteKey reads the write key analytics-next puts in the body of its
// requests, restoring the body for the handler. The body is read within
// the size limit; a larger one is left for the handler to refuse.
func (s *server) bodyWriteKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	if r.Body == nil {
		return "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		// Let the handler answer 413 on what was read.
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), strings.NewReader("x")))
		return "", false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return "", false
	}
	var v struct {
		WriteKey string `json:"writeKey"`
	}
	if json.Unmarshal(body, &v) != nil || strings.TrimSpace(v.WriteKey) == "" {
		return "", false
	}
	return v.WriteKey, true
}

// projectSettings are the settings analytics-next fetches before it
// sends anything: its Segment.io destination pointed back at this server.
type projectSettings struct {
	Integrations      map[string]segmentioSettings `json:"integrations"`
	Plan              map[string]any               `json:"plan"`
	Metrics           map[string]any               `json:"metrics"`
	EnabledMiddleware map[string]bool              `json:"enabledMiddleware"`
	RemotePlugins     []any                        `json:"remotePlugins"`
}

type segmentioSettings struct {
	APIKey                string   `json:"apiKey"`
	APIHost               string   `json:"apiHost"`
	Protocol              string   `json:"protocol"`
	UnbundledIntegrations []string `json:"unbundledIntegrations"`
	AddBundledMetadata    bool     `json:"addBundledMetadata"`
}

// getProjectSettings serves GET /v1/projects/{writeKey}/settings, the
// "CDN settings" analytics-next loads from cdnURL: events go to this
// server's /v1 (apiHost), over the scheme the page reached it with.
func (s *server) getProjectSettings(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("writeKey")
	switch {
	case keyEqual(key, s.cfg.AdminKey):
		writeError(w, http.StatusForbidden, "the admin key must never be put in a page; use the ingest key as the write key")
		return
	case !keyEqual(key, s.cfg.IngestKey):
		writeError(w, http.StatusNotFound, "unknown write key: use the ingest key (LEADFLOW_INGEST_KEY)")
		return
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		proto = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/ ,") {
		host = h
	}
	writeJSON(w, http.StatusOK, projectSettings{
		Integrations: map[string]segmentioSettings{"Segment.io": {
			APIKey: key, APIHost: host + "/v1", Protocol: proto, UnbundledIntegrations: []string{},
		}},
		Plan:              map[string]any{},
		Metrics:           map[string]any{"sampleRate": 0},
		EnabledMiddleware: map[string]bool{},
		RemotePlugins:     []any{},
	})
}
