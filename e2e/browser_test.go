package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds a Chromium: $LEADFLOW_CHROMIUM, else Debian's
// chromium on the PATH.
func chromiumPath() string {
	if p := os.Getenv("LEADFLOW_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserBundle bundles e2e/browser/page.js (the real @segment/analytics-next
// from npm) with esbuild, installing the npm project first when needed.
func browserBundle(t *testing.T, npm string) string {
	t.Helper()
	dir, err := filepath.Abs("browser")
	require.NoError(t, err)
	esbuild := filepath.Join(dir, "node_modules", ".bin", "esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		require.NotEmpty(t, npm, "e2e/browser/node_modules is missing and npm is not installed: run `npm ci --prefix e2e/browser`")
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefix", dir).CombinedOutput()
		require.NoError(t, err, "npm ci --prefix e2e/browser: %s", out)
	}
	bundle := filepath.Join(t.TempDir(), "page.js")
	out, err := exec.Command(esbuild, filepath.Join(dir, "page.js"), "--bundle", "--format=iife", "--log-level=warning",
		"--outfile="+bundle).CombinedOutput()
	require.NoError(t, err, "esbuild: %s", out)
	return bundle
}

// flakyProxy stands between the browser and leadflow: it passes every
// request on and counts them; the first POST to each path in failOnce
// reaches leadflow (its events are stored) but the browser is answered 503,
// so the library retries a request whose events are already in the log.
type flakyProxy struct {
	mu       sync.Mutex
	failOnce map[string]bool
	seen     map[string]int // "METHOD path" → requests
	retried  map[string]string
}

func (p *flakyProxy) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		key := r.Method + " " + r.URL.Path
		p.seen[key]++
		fail := r.Method == "POST" && p.failOnce[r.URL.Path]
		if fail {
			delete(p.failOnce, r.URL.Path)
		}
		if rc := r.Header.Get("X-Retry-Count"); rc != "" {
			p.retried[r.URL.Path] = rc
		}
		p.mu.Unlock()
		if !fail {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(http.StatusServiceUnavailable) // stored, but the browser is told otherwise
	})
}

func (p *flakyProxy) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[key]
}

// A marketer's site on another origin loads the real @segment/analytics-next
// pointed at leadflow (settings served by leadflow, CORS, text/plain bodies
// with the write key, the standard and the batching dispatchers, retries
// after a 503): the anonymous visitor's page views and clicks score their
// anonymous contact; identify merges it into the known user, whose score
// and explanation then hold both.
func TestBrowserTrackingScript(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath()
	npm, _ := exec.LookPath("npm")
	switch {
	case chromium == "" && npm == "":
		t.Skip("neither Chromium nor npm is installed: `apt-get install -y chromium npm` and `npm ci --prefix e2e/browser` to run the browser test")
	case chromium == "":
		t.Fatal("Chromium is not installed (npm is): `apt-get install -y chromium`, or set LEADFLOW_CHROMIUM")
	}
	bundle := browserBundle(t, npm)

	st := newStack(t, stackOptions{})
	st.publish([]byte(`{"kind": "score_model", "id": "web", "name": "Web engagement",
	  "bands": [{"name": "cold", "min": -1000, "color": "blue"}, {"name": "hot", "min": 15, "color": "red"}],
	  "profile": [{"id": "company-known", "when": {"field": "company", "op": "exists"}, "points": 2}],
	  "engagement": [
	    {"id": "page", "reason": "visited a page", "on": {"type": "page_visited"}, "points": 1},
	    {"id": "pricing", "reason": "visited the pricing page", "on": {"type": "page_visited", "url": "*/pricing*"}, "points": 5},
	    {"id": "demo", "reason": "requested a demo", "on": {"type": "event", "event": "demo_requested"}, "points": 10}]}`))

	proxy := &flakyProxy{failOnce: map[string]bool{"/v1/t": true, "/v1/b": true}, seen: map[string]int{}, retried: map[string]string{}}
	leadflow := httptest.NewServer(proxy.handler(st.URL))
	t.Cleanup(leadflow.Close)

	// The marketer's site: another origin (another port).
	site := http.NewServeMux()
	site.HandleFunc("/pricing/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>Pricing</title><script src="/page.js"></script></head><body><h1>Pricing</h1></body></html>`)
	})
	site.HandleFunc("/page.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, bundle)
	})
	siteSrv := httptest.NewServer(site)
	t.Cleanup(siteSrv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 50*time.Second)
	defer cancelTimeout()

	type visit struct {
		AnonymousID string   `json:"anonymousId"`
		Errors      []string `json:"errors"`
	}
	run := func(userID string, batching bool) visit {
		t.Helper()
		script := fmt.Sprintf(`leadflowVisit({writeKey: %q, leadflowURL: %q, userId: %q, email: %q, batching: %t})`,
			ingestKey, leadflow.URL, userID, userID+"@acme.example", batching)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(siteSrv.URL+"/pricing/")))
		_, err := chromedp.Run(ctx, chromedp.Evaluate[any](`leadflowReset()`))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(siteSrv.URL+"/pricing/?visitor="+userID)))
		v, err := chromedp.Run(ctx, chromedp.Evaluate[visit](script, chromedp.EvalAwaitPromise))
		require.NoError(t, err, "the page's script")
		require.NotEmpty(t, v.AnonymousID)
		return v
	}
	expect := func(v visit, userID string) {
		t.Helper()
		// The anonymous visitor scored page (+1, pricing +5) and the demo
		// request (+10); identify merges that contact into the known one,
		// whose score is re-derived from both histories: company known
		// (+2), twice page (+6) and demo (+10). The retried request's events
		// were stored once.
		known := st.eventually(userID, 20*time.Second, func(c contact) bool { return c.Scores["web"].Score == 34 })
		require.Equal(t, userID+"@acme.example", known.Email)
		require.Equal(t, "Acme", known.Fields["company"])
		require.Equal(t, "hot", known.Scores["web"].Band)
		time.Sleep(300 * time.Millisecond)
		st.settled()
		again, _ := st.contact(userID)
		require.Equal(t, 34.0, again.Scores["web"].Score, "no event counted twice")
		// The merged history explains the score: both visits' rules.
		entries, totals := st.history(userID)
		require.Equal(t, 34.0, totals["web"])
		pricing := 0
		for _, e := range entries {
			if e.RuleID == "pricing" {
				pricing++
			}
		}
		require.Equal(t, 2, pricing, "the pricing visit before sign-up and the one after")
		// The anonymous id keeps answering: it redirects to the known contact.
		anon, code := st.contact(v.AnonymousID)
		require.Equal(t, 200, code)
		require.Equal(t, userID, anon.ContactID)
	}

	// One event per request (the library's default).
	v := run("user-standard", false)
	expect(v, "user-standard")
	// The library retries after a backoff of its own, possibly after the
	// scores are already right (the failed request's events were stored).
	require.Eventually(t, func() bool { return proxy.count("POST /v1/t") >= 3 }, 20*time.Second, 50*time.Millisecond,
		"the failed track call was retried")
	require.GreaterOrEqual(t, proxy.count("POST /v1/p"), 2)
	require.GreaterOrEqual(t, proxy.count("POST /v1/i"), 1)
	require.GreaterOrEqual(t, proxy.count("GET /v1/projects/"+ingestKey+"/settings"), 1, "settings loaded from leadflow")
	require.GreaterOrEqual(t, proxy.count("OPTIONS /v1/t"), 1, "a cross-origin preflight was answered")

	// The next visitor, with batching on: /v1/b, the first batch answered
	// 503 and retried.
	v2 := run("user-batching", true)
	require.NotEqual(t, v.AnonymousID, v2.AnonymousID)
	expect(v2, "user-batching")
	require.Eventually(t, func() bool { return proxy.count("POST /v1/b") >= 2 }, 20*time.Second, 50*time.Millisecond,
		"the failed batch was retried")
	proxy.mu.Lock()
	require.NotEmpty(t, proxy.retried["/v1/b"], "the retry carried X-Retry-Count through CORS")
	proxy.mu.Unlock()
}
