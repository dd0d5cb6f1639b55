// Package api is leadflow's HTTP API: event ingestion (native and
// Segment-compatible), contact upserts, the read routes sales and marketers
// use (contacts, score history, the hot list, CRM tasks, accounts) and the
// publication of definitions. It answers JSON; api/openapi.yaml describes
// every route and is served at /openapi.yaml.
//
// The API never changes contact state itself: it appends events to the
// durable log in PostgreSQL and wakes the partition workflows that apply
// them. All SQL lives in package store.
package api

import (
	"context"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// Waker wakes the partition workflows after events are committed to the log.
// The engine implements it; the API calls it after every insert that added
// events. A lost wake-up only delays application: partitions also poll.
type Waker interface {
	Wake(ctx context.Context, partitions []int)
}

// Config configures the API.
type Config struct {
	Store *store.Store
	// Waker is told which partitions received new events; may be nil.
	Waker Waker
	// InsertsNotify says that the database wakes partitions itself when
	// events are inserted (migration 011's trigger NOTIFYs at commit): the
	// Waker is then called only for other work (a quarantined event
	// released, a delivery retried).
	InsertsNotify bool
	// AdminKey may call every route; IngestKey may only send events
	// (POST /v1/events and the Segment-compatible routes). A key that is
	// empty matches nothing.
	AdminKey, IngestKey string
	ViewerKey           string // may read through the console (/ui/) only; see session.go
	Log                 zerolog.Logger
	// MaxBodyBytes limits request bodies (default 1 MiB); larger → 413.
	MaxBodyBytes int64
	// Ready reports readiness for /readyz (database and Temporal reachable).
	// When nil, /readyz pings the database.
	Ready func(ctx context.Context) error
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ContactWait is how long POST /v1/contacts waits for its event to be
	// applied before answering 202 (default 5s).
	ContactWait time.Duration
	// Integrations configures the email providers' event webhooks
	// (/v1/integrations/...); a provider left empty is off.
	Integrations Integrations
	// BrowserOrigins lists the origins (scheme://host[:port]) whose pages
	// may send events from a browser (CORS on the Segment routes); empty
	// allows every origin.
	BrowserOrigins []string
	// CRMWebhookURL receives the CRM tasks a merge creates (a threshold the
	// merged scores cross together), as the worker's CRM_WEBHOOK_URL.
	CRMWebhookURL string
	// Limits are the rate limit per client and the cap on requests served
	// at once (see Limits; the zero value means the defaults).
	Limits Limits
	// EventRetention is the event retention horizon
	// (LEADFLOW_EVENT_RETENTION; zero: none): publishing a definition that
	// reads events further back is refused.
	EventRetention time.Duration
}

// Limits of the API.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultContactWait  = 5 * time.Second
	MaxBatch            = 1000 // events per request
	maxDetails          = 100  // validation problems reported per response
	maxIDLen            = 256
	maxTypeLen          = 100
	maxFuture           = 24 * time.Hour
	contactPoll         = 20 * time.Millisecond
)

//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPI returns the embedded OpenAPI 3.1 document describing the API.
func OpenAPI() []byte { return append([]byte(nil), openAPISpec...) }

type access int

const (
	public access = iota
	ingest        // the ingest key or the admin key
	admin         // the admin key only
)

type route struct {
	method, path string
	access       access
	handler      http.HandlerFunc
}

type server struct {
	cfg          Config
	engine       *engine.Engine // for merges, which replay histories through the core
	log          zerolog.Logger
	integrations integrations
	protector    *protector
}

// New returns the API's handler.
func New(cfg Config) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ContactWait <= 0 {
		cfg.ContactWait = DefaultContactWait
	}
	s := &server{cfg: cfg, log: cfg.Log, integrations: newIntegrations(cfg.Integrations), protector: newProtector(cfg.Limits, time.Now)}
	if cfg.Store != nil {
		s.engine = engine.New(cfg.Store, cfg.CRMWebhookURL, cfg.Log)
	}
	routes := s.routes()
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		h := rt.handler
		if rt.access != public {
			h = s.authenticate(rt.access, h)
		}
		mux.HandleFunc(rt.method+" "+rt.path, h)
		if allowed[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// Other methods on a known path: 405 with Allow, in JSON.
	for _, p := range paths {
		methods := allowed[p]
		for _, m := range methods {
			if m == "GET" {
				methods = append(methods, "HEAD")
				break
			}
		}
		allow := strings.Join(methods, ", ")
		notAllowed := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, allow))
		}
		if !matchesWildcard(p, paths) {
			mux.HandleFunc(p, notAllowed)
			continue
		}
		// A literal path a wildcard route also matches (/v1/contacts/import
		// and GET /v1/contacts/{contact_id}): a pattern without a method
		// would conflict with it, so the other methods are named.
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if !slices.Contains(methods, m) {
				mux.HandleFunc(m+" "+p, notAllowed)
			}
		}
	}
	s.mountConsole(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s; see /openapi.yaml", r.Method, r.URL.Path))
	})
	return s.observe(s.protect(s.recover(s.cors(mux))))
}

// matchesWildcard reports whether a route path with a {wildcard} among
// paths also matches the literal path p.
func matchesWildcard(p string, paths []string) bool {
	seg := strings.Split(p, "/")
	for _, o := range paths {
		if o == p || !strings.Contains(o, "{") {
			continue
		}
		os := strings.Split(o, "/")
		if len(os) != len(seg) {
			continue
		}
		same := true
		for i := range os {
			same = same && (os[i] == seg[i] || strings.HasPrefix(os[i], "{"))
		}
		if same {
			return true
		}
	}
	return false
}

// routes lists every route with the key it needs.
func (s *server) routes() []route {
	return append([]route{
		{"GET", "/healthz", public, s.healthz},
		{"GET", "/readyz", public, s.readyz},
		// Metrics tell about contacts and traffic: on the API's address only
		// with the admin key (LEADFLOW_METRICS_ADDR serves them apart).
		{"GET", "/metrics", admin, metrics.Handler().ServeHTTP},
		{"GET", "/openapi.yaml", public, s.openapi},

		{"POST", "/v1/events", ingest, s.postEvents},
		{"GET", "/v1/events/failed", admin, s.getFailedEvents},
		{"POST", "/v1/events/{id}/retry", admin, s.postEventRetry},
		{"POST", "/v1/events/{id}/discard", admin, s.postEventDiscard},
		{"POST", "/v1/track", ingest, s.segment("track")},
		{"POST", "/v1/identify", ingest, s.segment("identify")},
		{"POST", "/v1/page", ingest, s.segment("page")},
		{"POST", "/v1/screen", ingest, s.segment("screen")},
		{"POST", "/v1/group", ingest, s.segment("group")},
		{"POST", "/v1/alias", ingest, s.segment("alias")},
		{"POST", "/v1/batch", ingest, s.segmentBatch},
		// The paths analytics-next posts to (apiHost + "/" + the type's
		// first letter; "/b" when batching) and the settings it loads.
		{"POST", "/v1/t", ingest, s.segment("track")},
		{"POST", "/v1/i", ingest, s.segment("identify")},
		{"POST", "/v1/p", ingest, s.segment("page")},
		{"POST", "/v1/s", ingest, s.segment("screen")},
		{"POST", "/v1/g", ingest, s.segment("group")},
		{"POST", "/v1/a", ingest, s.segment("alias")},
		{"POST", "/v1/b", ingest, s.segmentBatch},
		{"GET", "/v1/projects/{writeKey}/settings", public, s.getProjectSettings},

		// Email providers' event webhooks: authenticated by the provider's
		// signature or credentials, not by leadflow's keys.
		{"POST", "/v1/integrations/sendgrid", public, s.postSendGrid},
		{"POST", "/v1/integrations/mailgun", public, s.postMailgun},
		{"POST", "/v1/integrations/postmark", public, s.postPostmark},

		{"POST", "/v1/contacts", admin, s.postContact},
		{"POST", "/v1/contacts/import", admin, s.postContactsImport},
		{"GET", "/v1/contacts", admin, s.getContacts},
		{"GET", "/v1/contacts/{contact_id}", admin, s.getContact},
		{"DELETE", "/v1/contacts/{contact_id}", admin, s.deleteContact},
		{"GET", "/v1/contacts/{contact_id}/score-history", admin, s.getScoreHistory},
		{"GET", "/v1/leads", admin, s.getLeads},
		{"GET", "/v1/tasks", admin, s.getTasks},
		{"GET", "/v1/accounts/{account_id}", admin, s.getAccount},
		{"GET", "/v1/deliveries", admin, s.getDeliveries},
		{"POST", "/v1/deliveries/{id}/retry", admin, s.retryDelivery},

		{"POST", "/v1/contacts/{contact_id}/merge", admin, s.mergeContacts},
		{"POST", "/v1/definitions", admin, s.postDefinitions},
		{"POST", "/v1/definitions/preview", admin, s.previewDefinitions},
		{"GET", "/v1/definitions", admin, s.listDefinitions},
		{"GET", "/v1/definitions/{id}", admin, s.getDefinition},
		{"POST", "/v1/definitions/{id}/pause", admin, s.setDefinitionStatus("paused")},
		{"POST", "/v1/definitions/{id}/resume", admin, s.setDefinitionStatus("published")},

		{"GET", "/v1/reports/conversion", admin, s.getConversionReport},
		{"GET", "/v1/models/{id}/suggestions", admin, s.getModelSuggestions},
	}, s.consoleRoutes()...)
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe logs every request and records its duration by route pattern.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		pattern := r.Pattern // set by the ServeMux on this request
		if pattern == "" {
			pattern = "unmatched"
		}
		metrics.HTTPRequestSeconds.WithLabelValues(pattern, strconv.Itoa(sw.status)).Observe(elapsed.Seconds())
		level := zerolog.InfoLevel
		switch {
		case sw.status >= 500:
			level = zerolog.ErrorLevel
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics":
			level = zerolog.DebugLevel
		}
		s.log.WithLevel(level).
			Str("method", r.Method).
			Str("path", r.URL.Path).
			Str("route", pattern).
			Int("status", sw.status).
			Int("bytes", sw.bytes).
			Float64("duration_ms", float64(elapsed.Microseconds())/1000).
			Str("remote", r.RemoteAddr).
			Msg("http request")
	})
}

// recover turns a panic in a handler into a 500 and logs it with its stack.
func (s *server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error().Str("method", r.Method).Str("path", r.URL.Path).
				Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("panic serving HTTP request")
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // the response has started; nothing more can be said
			}
			writeError(w, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate checks the key: "Authorization: Bearer <key>", or HTTP Basic
// with the key as the user name (Segment's write key; the password is
// ignored).
func (s *server) authenticate(need access, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.sessionAuth(w, r, need, next) {
			return
		}
		key, ok := credential(r)
		if !ok && r.Method == http.MethodPost && isBrowserPath(r.URL.Path) {
			key, ok = s.bodyWriteKey(w, r) // analytics-next's "writeKey"
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="leadflow"`)
			writeError(w, http.StatusUnauthorized, "missing API key: send \"Authorization: Bearer <key>\" (or the key as the HTTP Basic user name, or, from analytics.js, as \"writeKey\" in the body)")
			return
		}
		var got access
		switch {
		case keyEqual(key, s.cfg.AdminKey):
			got = admin
		case keyEqual(key, s.cfg.IngestKey):
			got = ingest
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="leadflow", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown API key")
			return
		}
		if got == admin && r.Header.Get("Origin") != "" && isBrowserPath(r.URL.Path) {
			got = ingest // a page is public: whatever key it carries only sends events
		}
		if got < need {
			writeError(w, http.StatusForbidden, "the ingest key may only send events; this route needs the admin key")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), accessKey{}, got)))
	}
}

// accessKey is the context key of the access a request's key gives.
type accessKey struct{}

// isAdmin reports whether the request was made with the admin key.
func isAdmin(r *http.Request) bool {
	a, _ := r.Context().Value(accessKey{}).(access)
	return a == admin
}

func credential(r *http.Request) (string, bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer") && rest != "":
		return rest, true
	case strings.EqualFold(scheme, "Basic") && rest != "":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", false
		}
		user, _, _ := strings.Cut(string(raw), ":")
		if user == "" {
			return "", false
		}
		return user, true
	}
	return "", false
}

func keyEqual(got, want string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var err error
	switch {
	case s.cfg.Ready != nil:
		err = s.cfg.Ready(ctx)
	case s.cfg.Store != nil:
		err = s.cfg.Store.Pool.Ping(ctx)
	}
	if err != nil {
		// The cause (addresses, driver messages) goes to the log, not to
		// whoever can reach this public route.
		s.log.Warn().Err(err).Msg("not ready")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPISpec)
}

// detail is one problem of a request: where (a JSON path into the body, or
// a query parameter) and what.
type detail struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// errorBody is the body of every error response.
type errorBody struct {
	Error   string   `json:"error"`
	Details []detail `json:"details,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error: encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string, details ...detail) {
	writeJSON(w, status, errorBody{Error: msg, Details: details})
}

// requestError is an error with its status and details, returned by the
// helpers that read requests.
type requestError struct {
	status  int
	msg     string
	details []detail
}

func (e *requestError) Error() string { return e.msg }

func badRequest(details []detail) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: summarize(details), details: details}
}

// summarize names the first problem in the error message.
func summarize(details []detail) string {
	if len(details) == 0 {
		return "invalid request"
	}
	first := details[0].Message
	if details[0].Path != "" {
		first = details[0].Path + ": " + first
	}
	if len(details) == 1 {
		return first
	}
	more := "problems"
	if len(details) == 2 {
		more = "problem"
	}
	return fmt.Sprintf("%s (and %d more %s, see details)", first, len(details)-1, more)
}

// fail answers an error: a *requestError as it is, store.ErrNotFound as 404,
// anything else as 500 (logged, not shown).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		writeError(w, re.status, re.msg, re.details...)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads this.
		writeError(w, 499, "request canceled")
	default:
		s.log.Error().Err(err).Str("method", r.Method).Str("path", r.URL.Path).Msg("request failed")
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}
