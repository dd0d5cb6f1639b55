package e2e

// The console (/ui/) in a real headless Chromium, driven by chromedp,
// against the real stack (PostgreSQL, embedded Temporal, the API). The
// tests save screenshots of each page to docs/screenshots/ for the README
// (LEADFLOW_SCREENSHOTS=1).
// They skip only when no Chromium is installed (Debian: apt-get install
// chromium; or set LEADFLOW_CHROMIUM to its path).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
)

// consoleChromium finds the browser (browser_test.go's chromiumPath) or
// skips the test.
func consoleChromium(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		t.Skip("Chromium is not installed (apt-get install -y chromium, or set LEADFLOW_CHROMIUM): skipping the console's browser tests")
	}
	return p
}

// browser is one headless Chromium tab with the console's problems
// (exceptions, CSP violations, console errors) recorded.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(consoleChromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
		case *log.EventEntryAdded:
			// 4xx answers the tests provoke on purpose are logged as errors
			// too; anything else (a CSP violation, say) is a problem.
			if ev.Entry.Level == log.EntryLevelError && !strings.Contains(ev.Entry.Text, "the server responded with a status of 4") {
				b.problems = append(b.problems, "log: "+ev.Entry.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" {
				b.problems = append(b.problems, "console.error")
			}
		}
	}))
	_, err := chromedp.Call(ctx, log.Enable, cdp.Empty{})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)))
	return b
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

// evalJS evaluates a JavaScript expression (awaiting a promise).
func evalJS[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(b.t, err, "evaluating %s", expr)
	return v
}

// waitFor polls a JavaScript condition until it is true; it returns how
// long that took.
func (b *browser) waitFor(what, cond string, timeout time.Duration) time.Duration {
	b.t.Helper()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main")?.innerText ?? ""`))
			b.t.Fatalf("the console did not show %s within %s (err %v); the page shows:\n%s", what, timeout, err, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot takes the whole page as <name>.png: into docs/screenshots/
// (the README's pictures) when LEADFLOW_SCREENSHOTS=1, else into the
// test's temporary folder, so that a test run leaves the tree unchanged.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	dir := b.t.TempDir()
	if os.Getenv("LEADFLOW_SCREENSHOTS") == "1" {
		dir = filepath.Join("..", "docs", "screenshots")
	}
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

func (b *browser) noProblems() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Empty(b.t, b.problems, "the console logged errors (a CSP violation shows here)")
}

func (b *browser) signIn(key string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base+"/ui/"), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), key), chromedp.Click(chromedp.ID("signin")))
}

func fetchStatus(b *browser, method, path string, headers string) int {
	b.t.Helper()
	return evalJS[int](b, fmt.Sprintf(`fetch(%q, {method: %q, headers: %s}).then(r => r.status)`, path, method, headers))
}

func TestConsoleSignInBoardAndContact(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	b := newBrowser(t, st.URL)

	// A request without the session is refused, by the API and in the
	// browser before signing in.
	require.Equal(t, 401, st.do("GET", "/v1/leads", "", nil, nil))
	b.run(chromedp.Navigate(st.URL+"/ui/"), chromedp.WaitVisible(chromedp.ID("key")))
	require.Equal(t, 401, fetchStatus(b, "GET", "/v1/leads", "{}"))

	// A wrong key can't sign in.
	b.signIn("not-the-key")
	b.waitFor("the sign-in error", `document.querySelector("#signin-error")?.textContent.includes("unknown key")`, 10*time.Second)
	require.Equal(t, 401, fetchStatus(b, "GET", "/v1/leads", "{}"), "no session after a wrong key")
	b.screenshot("signin")

	// The admin key signs in; the board shows.
	b.signIn(adminKey)
	b.waitFor("the leads board", `document.querySelector("table.leads") || document.querySelector("#board .empty")`, 15*time.Second)
	// The session works for reads; a change without the anti-CSRF token
	// is refused; the ingest routes never take the cookie.
	require.Equal(t, 200, fetchStatus(b, "GET", "/v1/leads", "{}"))
	require.Equal(t, 403, fetchStatus(b, "POST", "/v1/definitions/hot-list-morning/pause", "{}"))
	require.Equal(t, 401, fetchStatus(b, "POST", "/v1/events", `{"Content-Type": "application/json"}`))

	// Contacts sent over the API appear on the board, in their band's
	// colour (main: hot is red, warm orange), within seconds.
	sent := time.Now()
	for _, c := range []map[string]any{
		{"contact_id": "ada", "email": "ada@example.com", "fields": map[string]any{"owner": "olga", "company": "Acme", "country": "PT"}},
		{"contact_id": "bob", "email": "bob@example.com", "fields": map[string]any{"owner": "sam", "company": "Bobco"}},
	} {
		code := st.do("POST", "/v1/contacts", adminKey, c, nil)
		require.Contains(t, []int{200, 201, 202}, code)
	}
	st.send(
		map[string]any{"id": "ada-1", "type": "calendly_booked", "contact_id": "ada"},
		map[string]any{"id": "ada-2", "type": "trial_started", "contact_id": "ada"},
		map[string]any{"id": "bob-1", "type": "calendly_booked", "contact_id": "bob"},
		map[string]any{"id": "cy-1", "type": "email_clicked", "contact_id": "cy", "email": "cy@example.com",
			"properties": map[string]any{"campaign": "nurture"}},
	)
	waited := b.waitFor("ada on the board in red", `(() => {
		const row = document.querySelector('tr[data-contact="ada"]');
		if (!row || row.dataset.band !== "hot") return false;
		const dot = row.querySelector(".band .swatch");
		return getComputedStyle(dot).backgroundColor === "rgb(255, 0, 0)" && row.querySelector(".band").textContent.includes("hot");
	})()`, 30*time.Second)
	t.Logf("ada appeared on the board, hot and red, %s after her events were sent (%s of polling)", time.Since(sent).Round(time.Millisecond), waited.Round(time.Millisecond))
	b.waitFor("bob on the board in orange", `(() => {
		const row = document.querySelector('tr[data-contact="bob"]');
		return row && getComputedStyle(row.querySelector(".band .swatch")).backgroundColor === "rgb(255, 165, 0)";
	})()`, 30*time.Second)
	order := evalJS[[]string](b, `[...document.querySelectorAll("table.leads tbody tr")].map(r => r.dataset.contact)`)
	require.Equal(t, "ada", order[0], "sorted by score: %v", order)
	b.screenshot("leads")

	// The filters narrow the board (by owner here).
	b.run(chromedp.SendKeys(chromedp.ID("f-owner"), "sam"))
	b.waitFor("only bob", `document.querySelectorAll("table.leads tbody tr").length === 1 && document.querySelector('tr[data-contact="bob"]')`, 10*time.Second)
	evalJS[bool](b, `(() => { const f = document.querySelector("#f-owner"); f.value = ""; return f.dispatchEvent(new Event("input")); })()`)
	b.waitFor("ada back", `document.querySelector('tr[data-contact="ada"]')`, 10*time.Second)

	// Ada's page: the explanation's entries sum visibly to her score.
	c := st.eventually("ada", 20*time.Second, func(c contact) bool { return len(c.Tags) > 0 })
	b.run(chromedp.Click(chromedp.CSS(`tr[data-contact="ada"] a`)))
	b.waitFor("ada's ledger", `document.querySelector("#ledger-main tbody tr")`, 15*time.Second)
	type ledgerPage struct {
		Sum     float64  `json:"sum"`
		Shown   string   `json:"shown"`
		Total   string   `json:"total"`
		Rows    int      `json:"rows"`
		Reasons []string `json:"reasons"`
		Band    string   `json:"band"`
		Chart   bool     `json:"chart"`
	}
	page := evalJS[ledgerPage](b, `(() => {
		const rows = [...document.querySelectorAll("#ledger-main tbody tr")];
		return {
			sum: rows.reduce((a, r) => a + Number(r.dataset.points), 0),
			shown: document.querySelector("#score-main").textContent,
			total: document.querySelector("#sum-main").textContent,
			rows: rows.length,
			reasons: rows.map(r => r.children[3].textContent),
			band: document.querySelector('[data-model="main"] .bigscore .band').textContent,
			chart: !!document.querySelector('[data-model="main"] svg.chart path.line'),
		};
	})()`)
	require.InDelta(t, c.Scores["main"].Score, page.Sum, 0.001, "the entries sum to the score")
	require.Equal(t, fmt.Sprint(c.Scores["main"].Score), page.Shown)
	require.Equal(t, page.Shown, page.Total, "the sum row shows the score")
	require.Equal(t, "hot", page.Band)
	require.True(t, page.Chart, "a chart of the score over time")
	var hist struct {
		Entries []map[string]any `json:"entries"`
	}
	st.do("GET", "/v1/contacts/ada/score-history?model=main", adminKey, nil, &hist)
	require.Equal(t, len(hist.Entries), page.Rows, "every ledger entry is shown")
	sections := evalJS[string](b, `document.querySelector("main").innerText`)
	for _, want := range []string{"Profile", "olga", "Segments", "Flow runs", "CRM tasks", "Timeline", "calendly_booked", "trial_started", "mql"} {
		require.Contains(t, sections, want)
	}
	b.screenshot("contact")

	// Phone width: the board fits without sideways scrolling.
	b.run(chromedp.EmulateViewport(390, 844), chromedp.Navigate(st.URL+"/ui/#/leads"))
	b.waitFor("the board at phone width", `document.querySelector('tr[data-contact="ada"]')`, 15*time.Second)
	overflow := evalJS[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`)
	require.False(t, overflow, "the board scrolls sideways at 390px")
	b.screenshot("leads-phone")
	b.run(chromedp.Navigate(st.URL + "/ui/#/contacts/ada"))
	b.waitFor("ada's page at phone width", `document.querySelector("#ledger-main")`, 15*time.Second)
	require.False(t, evalJS[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`), "the contact page scrolls sideways at 390px")
	b.screenshot("contact-phone")
	b.run(chromedp.EmulateViewport(1280, 800), chromedp.Navigate(st.URL+"/ui/#/leads"))
	b.waitFor("the board", `document.querySelector('tr[data-contact="ada"]')`, 15*time.Second)

	// Signing out ends the session.
	b.run(chromedp.Click(chromedp.ID("signout")))
	b.waitFor("the sign-in form", `document.querySelector("#key")`, 10*time.Second)
	require.Equal(t, 401, fetchStatus(b, "GET", "/v1/leads", "{}"))

	// The keyboard alone: sign in, Tab to a lead, Enter opens its page.
	b.waitFor("the key field focused", `document.activeElement?.id === "key"`, 10*time.Second)
	b.run(chromedp.KeyEvent(adminKey + kb.Enter))
	b.waitFor("the board", `document.querySelector('tr[data-contact="ada"] a')`, 15*time.Second)
	reached := false
	for i := 0; i < 40 && !reached; i++ {
		b.run(chromedp.KeyEvent(kb.Tab))
		reached = evalJS[bool](b, `document.activeElement === document.querySelector('tr[data-contact="ada"] a')`)
	}
	require.True(t, reached, "Tab reaches the lead's link")
	// The board refreshes with a new score while she is focused: the
	// keyboard user keeps their place.
	before := evalJS[string](b, `document.querySelector('tr[data-contact="ada"] .score').textContent`)
	st.send(ev("ada-3", "project_created", "ada", nil))
	b.waitFor("ada's new score", fmt.Sprintf(`document.querySelector('tr[data-contact="ada"] .score').textContent !== %q`, before), 20*time.Second)
	require.True(t, evalJS[bool](b, `document.activeElement === document.querySelector('tr[data-contact="ada"] a')`), "focus survives the refresh")
	b.run(chromedp.KeyEvent(kb.Enter))
	b.waitFor("ada's page, by keyboard", `location.hash === "#/contacts/ada" && document.querySelector("#ledger-main")`, 15*time.Second)
	b.noProblems()
}

func TestConsoleViewer(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	b := newBrowser(t, st.URL)
	b.signIn(viewerKey)
	b.waitFor("the board", `document.querySelector("#who")?.textContent.includes("viewer")`, 15*time.Second)
	require.Equal(t, 200, fetchStatus(b, "GET", "/v1/leads", "{}"))
	// Even with the token, a viewer changes nothing.
	csrf := evalJS[string](b, `fetch("/v1/session").then(r => r.json()).then(j => j.csrf_token)`)
	require.Equal(t, 403, fetchStatus(b, "POST", "/v1/definitions/hot-list-morning/pause", fmt.Sprintf(`{"X-CSRF-Token": %q}`, csrf)))
	// The viewer's pages offer no changes: no editor, no pause, no retry.
	b.run(chromedp.Navigate(st.URL + "/ui/#/flows/hot-list-morning"))
	b.waitFor("the flow's canvas", `document.querySelector('svg.canvas g[data-step="morning"]')`, 15*time.Second)
	require.False(t, evalJS[bool](b, `!!(document.querySelector("#editor") || document.querySelector("#pause") || document.querySelector("#publish"))`))
	b.run(chromedp.Navigate(st.URL + "/ui/#/flows"))
	b.waitFor("the list", `document.querySelector('a[href="#/flows/hot-list-morning"]')`, 15*time.Second)
	require.False(t, evalJS[bool](b, `!!document.querySelector("#new-definition")`))
	b.noProblems()
}

// consoleDemoFlow has a trigger, a branch, a wait for an event with a
// timeout, and actions on both exits.
const consoleDemoFlow = `{"kind": "flow", "id": "console-demo", "name": "Demo onboarding",
	"trigger": {"type": "event", "event": "demo_signup"}, "entry": "every_time",
	"steps": [
		{"id": "welcome", "type": "add_tag", "tag": "demo"},
		{"id": "is-ceo", "type": "condition", "if": {"field": "role", "op": "eq", "value": "CEO"}, "then": "vip", "else": "opened"},
		{"id": "vip", "type": "set_stage", "stage": "vip", "next": "opened"},
		{"id": "opened", "type": "wait_for_event", "event": "email_opened", "timeout": "7d", "on_event": "engaged", "on_timeout": "nudge"},
		{"id": "engaged", "type": "lead_score", "model": "main", "op": "add", "points": 5, "next": "end"},
		{"id": "nudge", "type": "create_crm_task", "title": "Nudge {{email}}", "assignee": "sam", "due_in": "1d"}
	]}`

func TestConsoleFlowCanvas(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	st.publish([]byte(consoleDemoFlow))
	b := newBrowser(t, st.URL)
	b.signIn(adminKey)
	b.waitFor("the board", `document.querySelector("#board")`, 15*time.Second)

	// The flows list links to the canvas.
	b.run(chromedp.Navigate(st.URL + "/ui/#/flows"))
	b.waitFor("the flows list", `document.querySelector('a[href="#/flows/console-demo"]')`, 15*time.Second)
	b.screenshot("flows")
	b.run(chromedp.Click(chromedp.CSS(`a[href="#/flows/console-demo"]`)))
	b.waitFor("the canvas", `document.querySelector('svg.canvas g[data-step="opened"]')`, 15*time.Second)

	// Every step is drawn, with the trigger, the end and the labelled branches.
	for _, step := range []string{"welcome", "is-ceo", "vip", "opened", "engaged", "nudge"} {
		require.True(t, evalJS[bool](b, fmt.Sprintf(`!!document.querySelector('svg.canvas g[data-step=%q]')`, step)), "step %s is drawn", step)
	}
	labels := evalJS[[]string](b, `[...document.querySelectorAll("svg.canvas .edgelabel")].map(e => e.textContent)`)
	require.Subset(t, labels, []string{"yes", "no", "on email_opened", "timeout 1w"})
	require.Contains(t, evalJS[string](b, `document.querySelector("svg.canvas [data-trigger]").textContent`), "demo_signup")
	require.True(t, evalJS[bool](b, `!!document.querySelector('svg.canvas g[data-node="end"]')`))

	waiting := func(step string) string {
		return fmt.Sprintf(`document.querySelector('svg.canvas g[data-step=%q] .ncount')?.dataset.waiting`, step)
	}
	// Two contacts enter and wait for an email to be opened.
	st.send(ev("d1", "demo_signup", "dana", nil), ev("d2", "demo_signup", "dino", nil))
	b.waitFor("2 waiting at opened", waiting("opened")+` === "2"`, 30*time.Second)
	b.screenshot("flow")

	// An opened email ends one wait: the count moves, and the run ends at engaged.
	st.send(ev("o1", "email_opened", "dana", nil))
	b.waitFor("1 waiting at opened", waiting("opened")+` === "1"`, 30*time.Second)
	b.waitFor("1 ended at engaged", `document.querySelector('svg.canvas g[data-step="engaged"] .ncount')?.dataset.ended === "1"`, 30*time.Second)
	require.Equal(t, "1", evalJS[string](b, `document.querySelector('table.steps tr[data-step="opened"] td:nth-child(4)').textContent`))

	// A score model is drawn as its bands, thresholds and rules.
	b.run(chromedp.Navigate(st.URL + "/ui/#/flows/main"))
	b.waitFor("the score model", `document.querySelectorAll("svg.scale .bandrect").length === 3`, 15*time.Second)
	require.Equal(t, "rgb(255, 0, 0)", evalJS[string](b, `getComputedStyle(document.querySelector('svg.scale .bandrect[data-band="hot"]')).fill`))
	require.Contains(t, evalJS[string](b, `document.querySelector("table.rules").innerText`), "calendly-booked")
	require.Contains(t, evalJS[string](b, `document.querySelector("svg.scale").textContent`), "mql at 20")
	b.screenshot("score-model")
	b.noProblems()
}

// editorReplace replaces the first occurrence of old in the console's
// editor with new, as typing would.
func editorReplace(b *browser, old, new string) {
	b.t.Helper()
	ok := evalJS[bool](b, fmt.Sprintf(`(() => {
		const v = document.querySelector("#editor").editorView;
		const i = v.state.doc.toString().indexOf(%q);
		if (i < 0) return false;
		v.dispatch({changes: {from: i, to: i + %d, insert: %q}, selection: {anchor: i + %d}, userEvent: "input.type"});
		return true;
	})()`, old, len(old), new, len([]rune(new))))
	require.True(b.t, ok, "%q is not in the editor", old)
}

func TestConsoleEditAndPublish(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	st.publish([]byte(consoleDemoFlow))
	b := newBrowser(t, st.URL)
	b.signIn(adminKey)
	b.waitFor("the board", `document.querySelector("#board")`, 15*time.Second)
	b.run(chromedp.Navigate(st.URL + "/ui/#/flows/console-demo"))
	b.waitFor("the editor, checked", `document.querySelector("#editor").shadowRoot?.querySelector(".cm-content") && document.querySelector("#draft-verdict")?.textContent.startsWith("Valid")`, 20*time.Second)
	version := func() (int, string) {
		var d struct {
			CurrentVersion int    `json:"current_version"`
			Status         string `json:"status"`
		}
		require.Equal(t, 200, st.do("GET", "/v1/definitions/console-demo", adminKey, nil, &d))
		return d.CurrentVersion, d.Status
	}

	// Completion from the JSON Schema: a step's type.
	editorReplace(b, `"type": "set_stage"`, `"type": "wait_f`)
	b.waitFor("the step types offered", `[...document.querySelector("#editor").shadowRoot.querySelectorAll(".cm-tooltip-autocomplete li")].some(li => li.textContent.includes('"wait_for_event"'))`, 10*time.Second)
	editorReplace(b, `"type": "wait_f`, `"type": "set_stage"`)

	// A broken draft: its error shows at the right path and line, the
	// canvas follows the draft, and publishing it publishes nothing.
	editorReplace(b, `"on_timeout": "nudge"`, `"on_timeout": "nowhere"`)
	b.waitFor("the error at steps[3].on_timeout", `document.querySelector('#draft-errors li[data-path="steps[3].on_timeout"]')`, 15*time.Second)
	line := evalJS[int](b, `(() => { const t = document.querySelector("#editor").editorView.state.doc.toString(); return t.slice(0, t.indexOf('"on_timeout"')).split("\n").length; })()`)
	require.Equal(t, fmt.Sprint(line), evalJS[string](b, `document.querySelector('#draft-errors li[data-path="steps[3].on_timeout"]').dataset.line`))
	b.waitFor("the error marked in the text", `[...document.querySelector("#editor").shadowRoot.querySelectorAll(".cm-lintRange-error")].some(e => e.textContent.includes("on_timeout") || e.textContent.includes("nowhere"))`, 10*time.Second)
	require.Contains(t, evalJS[string](b, `document.querySelector("#draft-errors").textContent`), "nowhere")
	b.waitFor("the canvas drawn from the draft", `document.querySelector('svg.canvas g[data-node="s:nowhere"]') && document.querySelector("#canvas-source").textContent.includes("draft")`, 10*time.Second)
	// The error's line link moves the cursor there.
	b.run(chromedp.Click(chromedp.CSS(`#draft-errors li[data-path="steps[3].on_timeout"] button`)))
	require.Equal(t, line, evalJS[int](b, `(() => { const v = document.querySelector("#editor").editorView; return v.state.doc.lineAt(v.state.selection.main.head).number; })()`))
	b.screenshot("editor-error")
	b.run(chromedp.Click(chromedp.ID("publish")))
	b.waitFor("the refusal", `document.querySelector("#publish-result").textContent.includes("Not published")`, 15*time.Second)
	v, _ := version()
	require.Equal(t, 1, v, "a broken draft publishes nothing")

	// Fixed, it validates, redraws and publishes a new version.
	editorReplace(b, `"on_timeout": "nowhere"`, `"on_timeout": "nudge"`)
	editorReplace(b, `"timeout": "1w"`, `"timeout": "3d"`)
	b.waitFor("a valid draft", `document.querySelector("#draft-verdict").textContent.startsWith("Valid") && !document.querySelector("#draft-errors li")`, 15*time.Second)
	require.False(t, evalJS[bool](b, `!!document.querySelector('svg.canvas g[data-node="s:nowhere"]')`))
	b.run(chromedp.Click(chromedp.ID("publish")))
	b.waitFor("version 2", `document.querySelector("#publish-result")?.textContent.includes("Published version 2") && document.querySelector("#def-version").textContent === "2"`, 15*time.Second)
	v, status := version()
	require.Equal(t, 2, v)
	require.Equal(t, "published", status)

	// The version history shows what changed.
	b.waitFor("the diff of v1 and v2", `[...document.querySelectorAll('#diff span[data-op="-"]')].some(s => s.textContent.includes('"1w"')) && [...document.querySelectorAll('#diff span[data-op="+"]')].some(s => s.textContent.includes('"3d"'))`, 10*time.Second)
	b.screenshot("editor")

	// Pause and resume.
	b.run(chromedp.Click(chromedp.ID("pause")))
	b.waitFor("paused", `document.querySelector("#def-status").textContent === "paused"`, 10*time.Second)
	_, status = version()
	require.Equal(t, "paused", status)
	b.run(chromedp.Click(chromedp.ID("resume")))
	b.waitFor("published", `document.querySelector("#def-status").textContent === "published"`, 10*time.Second)
	_, status = version()
	require.Equal(t, "published", status)

	// A new flow from the template, published from the console.
	b.run(chromedp.Navigate(st.URL+"/ui/#/flows"), chromedp.Click(chromedp.ID("new-definition")))
	b.waitFor("the template, valid", `document.querySelector("#draft-verdict")?.textContent.startsWith("Valid") && document.querySelector('svg.canvas g[data-step="wait-open"]')`, 20*time.Second)
	editorReplace(b, `"id": "my-flow"`, `"id": "demo-followup"`)
	editorReplace(b, `"name": "My flow"`, `"name": "Demo follow-up"`)
	b.waitFor("still valid", `document.querySelector("#draft-verdict").textContent.startsWith("Valid")`, 15*time.Second)
	b.run(chromedp.Click(chromedp.ID("publish")))
	b.waitFor("the new flow's page", `location.hash === "#/flows/demo-followup" && document.querySelector("#def-version")?.textContent === "1"`, 15*time.Second)
	var created struct {
		CurrentVersion int `json:"current_version"`
	}
	require.Equal(t, 200, st.do("GET", "/v1/definitions/demo-followup", adminKey, nil, &created))
	require.Equal(t, 1, created.CurrentVersion)
	b.noProblems()
}

// Tasks and deliveries: CRM tasks with their delivery status, failed
// deliveries and quarantined events with their errors, retried from the
// page.
func TestConsoleTasksAndDeliveries(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, 200)
	// Loopback is not allowed: the CRM delivery fails at once.
	st := newStack(t, stackOptions{crmWebhook: rcv.srv.URL + "/crm"})
	st.publish([]byte(hookFlow("call", `{"id": "task", "type": "create_crm_task", "title": "Call {{email}}", "assignee": "olga"}`)))
	st.send(ev("g1", "go", "ann", nil))
	crm := st.deliveryOf("crm_task", "/crm", "failed", 30*time.Second)
	_, _, err := st.Store.InsertEvents(context.Background(), []store.EventRow{{ID: "poison", ContactID: "ann", Type: "visit",
		Properties: map[string]any{"n": json.Number("1e400")}, OccurredAt: time.Now()}})
	require.NoError(t, err)
	st.waitFailed("poison")

	b := newBrowser(t, st.URL)
	b.signIn(adminKey)
	b.waitFor("the board", `document.querySelector("#board")`, 15*time.Second)
	b.run(chromedp.Click(chromedp.CSS(`nav a[href="#/work"]`)))
	b.waitFor("the task, failed", `document.querySelector('#tasks tr[data-status="failed"]')?.textContent.includes("olga")`, 15*time.Second)
	b.waitFor("the failed delivery with its error", fmt.Sprintf(`document.querySelector('#deliveries tr[data-delivery="%d"]')?.textContent.includes("loopback")`, crm.ID), 15*time.Second)
	b.waitFor("the quarantined event with its error", `document.querySelector('#quarantined tr[data-event="poison"]')?.textContent.includes("beyond the range")`, 15*time.Second)

	// The filters: another assignee has no tasks; a delivered status neither.
	b.run(chromedp.SendKeys(chromedp.ID("f-assignee"), "sam"))
	b.waitFor("no tasks for sam", `document.querySelector("#tasks .empty")`, 10*time.Second)
	evalJS[bool](b, `(() => { const f = document.querySelector("#f-assignee"); f.value = "olga"; return f.dispatchEvent(new Event("input")); })()`)
	b.waitFor("olga's task", `document.querySelector('#tasks tr[data-status="failed"]')`, 10*time.Second)
	b.screenshot("tasks")

	// Retry buttons.
	b.run(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#deliveries tr[data-delivery="%d"] button.retry`, crm.ID))))
	waitFor(t, 20*time.Second, "the delivery retried by hand", func() bool {
		for _, d := range func() []deliveryView { l, _ := st.deliveries(""); return l }() {
			if d.ID == crm.ID && d.ManualRetries == 1 {
				return true
			}
		}
		return false
	})
	b.run(chromedp.Click(chromedp.CSS(`#quarantined tr[data-event="poison"] button.retry`)))
	waitFor(t, 20*time.Second, "the event retried", func() bool {
		for _, f := range st.failed("").Events {
			if f.ID == "poison" && f.Attempts == 2 {
				return true
			}
		}
		return false
	})
	b.waitFor("the second attempt shown", `document.querySelector('#quarantined tr[data-event="poison"] td:nth-child(4)')?.textContent === "2"`, 15*time.Second)
	b.noProblems()
}

// Segments with their members (now, today, per day) and accounts with
// their rolled-up scores and contacts.
func TestConsoleSegmentsAndAccounts(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	for _, c := range []map[string]any{
		{"contact_id": "ada", "email": "ada@acme.test", "account_id": "acme", "fields": map[string]any{"company": "Acme"}},
		{"contact_id": "bob", "email": "bob@acme.test", "account_id": "acme"},
	} {
		code := st.do("POST", "/v1/contacts", adminKey, c, nil)
		require.Contains(t, []int{200, 201, 202}, code)
	}
	st.send(ev("a1", "calendly_booked", "ada", nil), ev("a2", "trial_started", "ada", nil), ev("b1", "trial_started", "bob", nil))
	ada := st.eventually("ada", 20*time.Second, func(c contact) bool { return c.Scores["main"].Band == "hot" })
	bob := st.eventually("bob", 20*time.Second, func(c contact) bool { return c.Scores["main"].Score >= 15 })

	b := newBrowser(t, st.URL)
	b.signIn(adminKey)
	b.waitFor("the board", `document.querySelector("#board")`, 15*time.Second)
	b.run(chromedp.Click(chromedp.CSS(`nav a[href="#/segments"]`)))
	b.waitFor("hot-list with 1 member, entered today", `(() => {
		const row = [...document.querySelectorAll("#segments tbody tr")].find(r => r.querySelector('a[href="#/segments/hot-list"]'));
		return row && row.querySelector("[data-members]").dataset.members === "1" && row.querySelector("[data-entered]").dataset.entered === "1";
	})()`, 20*time.Second)
	b.screenshot("segments")
	b.run(chromedp.Click(chromedp.CSS(`a[href="#/segments/hot-list"]`)))
	b.waitFor("the segment's page", `document.querySelector("#seg-members")?.textContent === "1" && document.querySelector("svg.chart polyline.line")`, 15*time.Second)
	b.screenshot("segment")

	b.run(chromedp.Click(chromedp.CSS(`nav a[href="#/accounts"]`)))
	sum := ada.Scores["main"].Score + bob.Scores["main"].Score
	b.waitFor("acme with its rolled-up score", fmt.Sprintf(`document.querySelector('#accounts [data-score]')?.dataset.score === %q`, fmt.Sprint(sum)), 15*time.Second)
	b.waitFor("acme's band in its colour", `document.querySelector('#accounts .band')?.dataset.band === "hot" && document.querySelector('#accounts .band').style.borderColor === "red"`, 15*time.Second)
	b.screenshot("accounts")
	b.run(chromedp.Click(chromedp.CSS(`a[href="#/accounts/acme"]`)))
	b.waitFor("acme's contacts", `document.querySelector('a[href="#/contacts/ada"]') && document.querySelector('a[href="#/contacts/bob"]')`, 15*time.Second)
	require.Contains(t, evalJS[string](b, `document.querySelector('dd[data-model="main"]').textContent`), fmt.Sprint(sum))
	require.Equal(t, "red", evalJS[string](b, `document.querySelector('dd[data-model="main"] .band').style.borderColor`), "the account's band in its colour")
	b.screenshot("account")
	b.noProblems()
}
