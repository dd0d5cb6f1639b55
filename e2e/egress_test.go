package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/egress"
)

// hit is one request a capture received, as it arrived.
type hit struct {
	uri    string // the request URI, escaped as sent
	header http.Header
	body   []byte
}

// capture is a receiver that records every request and answers status
// (changeable while the test runs); a 3xx answer redirects to location.
type capture struct {
	srv      *httptest.Server
	status   atomic.Int64
	location string
	mu       sync.Mutex
	hits     []hit
}

func newCapture(t *testing.T, status int) *capture {
	c := &capture{}
	c.status.Store(int64(status))
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.hits = append(c.hits, hit{uri: r.RequestURI, header: r.Header.Clone(), body: b})
		c.mu.Unlock()
		code := int(c.status.Load())
		if code >= 300 && code < 400 {
			w.Header().Set("Location", c.location)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *capture) received() []hit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]hit(nil), c.hits...)
}

// deliveryView is a delivery as GET /v1/deliveries lists it.
type deliveryView struct {
	ID            int64  `json:"id"`
	Kind          string `json:"kind"`
	CRMTaskID     *int64 `json:"crm_task_id"`
	URL           string `json:"url"`
	WebhookID     string `json:"webhook_id"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	LastError     string `json:"last_error"`
	ResponseCode  int    `json:"response_code"`
	ManualRetries int    `json:"manual_retries"`
}

func (st *stack) deliveries(query string) ([]deliveryView, *string) {
	st.t.Helper()
	var out struct {
		Deliveries []deliveryView `json:"deliveries"`
		NextCursor *string        `json:"next_cursor"`
	}
	code := st.do("GET", "/v1/deliveries"+query, adminKey, nil, &out)
	require.Equal(st.t, 200, code)
	return out.Deliveries, out.NextCursor
}

// deliveryOf waits until the delivery of kind whose URL contains urlPart
// reaches status, and returns it.
func (st *stack) deliveryOf(kind, urlPart, status string, timeout time.Duration) deliveryView {
	st.t.Helper()
	deadline := time.Now().Add(timeout)
	var last []deliveryView
	for time.Now().Before(deadline) {
		last, _ = st.deliveries("")
		for _, d := range last {
			if d.Kind == kind && strings.Contains(d.URL, urlPart) && d.Status == status {
				return d
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	st.t.Fatalf("no %s delivery to %s became %s within %s; deliveries: %+v", kind, urlPart, status, timeout, last)
	return deliveryView{}
}

// hookFlow is a flow that, on event "go", calls a webhook step.
func hookFlow(id, step string) string {
	return fmt.Sprintf(`{"kind": "flow", "id": %q, "name": "Hook", "trigger": {"type": "event", "event": "go"}, "entry": "every_time",
 "steps": [%s]}`, id, step)
}

// A webhook and a CRM task to 127.0.0.1 are refused when loopback is not
// allowed: failed at once with an error saying why, nothing received.
func TestDeliveryToLoopbackRefusedByDefault(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, 200)
	st := newStack(t, stackOptions{crmWebhook: rcv.srv.URL + "/crm"})
	st.publish([]byte(hookFlow("loop", `{"id": "hook", "type": "webhook", "url": "`+rcv.srv.URL+`/hook"},
  {"id": "task", "type": "create_crm_task", "title": "Call {{email}}"}`)))
	st.send(ev("e1", "go", "ann", nil))

	hook := st.deliveryOf("webhook", "/hook", "failed", 20*time.Second)
	require.Contains(t, hook.LastError, "is a loopback address")
	require.Contains(t, hook.LastError, "LEADFLOW_WEBHOOK_ALLOW")
	require.Equal(t, 1, hook.Attempts, "a refused address is not retried")
	crm := st.deliveryOf("crm_task", "/crm", "failed", 20*time.Second)
	require.Contains(t, crm.LastError, "loopback")
	require.NotNil(t, crm.CRMTaskID)
	waitFor(t, 5*time.Second, "the CRM task's delivery status", func() bool {
		ts := st.tasks("ann")
		return len(ts) == 1 && ts[0].DeliveryStatus == "failed"
	})
	require.Empty(t, rcv.received(), "nothing may reach a refused address")
}

// Cloud metadata is refused even where loopback is allowed: by address
// (IPv4, IPv6, IPv4-mapped) and by name.
func TestDeliveryToMetadataRefused(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback})
	st.publish([]byte(hookFlow("meta", `{"id": "v4", "type": "webhook", "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
  {"id": "v6", "type": "webhook", "url": "http://[fd00:ec2::254]/latest/meta-data/"},
  {"id": "mapped", "type": "webhook", "url": "http://[::ffff:169.254.169.254]/latest/"},
  {"id": "name", "type": "webhook", "url": "http://metadata.google.internal/computeMetadata/v1/"}`)))
	st.send(ev("e1", "go", "bo", nil))
	for _, u := range []string{"169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "metadata.google.internal"} {
		d := st.deliveryOf("webhook", u, "failed", 20*time.Second)
		require.Contains(t, d.LastError, "cloud-metadata", u)
		require.Equal(t, 0, d.ResponseCode)
	}
}

// A 302 is a failure: the redirect is not followed, even to a receiver
// the delivery itself could reach.
func TestDeliveryRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	target := newCapture(t, 200)
	redirector := newCapture(t, http.StatusFound)
	redirector.location = target.srv.URL + "/landed?token=s3cret"
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback})
	st.publish([]byte(hookFlow("redirect", `{"id": "hook", "type": "webhook", "url": "`+redirector.srv.URL+`/moved"}`)))
	st.send(ev("e1", "go", "cy", nil))

	d := st.deliveryOf("webhook", "/moved", "failed", 20*time.Second)
	require.Equal(t, 302, d.ResponseCode)
	require.Contains(t, d.LastError, "302 Found: redirect to")
	require.Contains(t, d.LastError, "not followed")
	require.Contains(t, d.LastError, "/landed?token=REDACTED")
	require.NotContains(t, d.LastError, "s3cret")
	require.Len(t, redirector.received(), 1)
	require.Empty(t, target.received(), "the redirect must not be followed")
}

// A URL template that could reach the host is refused at publish with the
// JSON path; a contact value is escaped into the path or query it stands in.
func TestWebhookURLTemplates(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, 204)
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback})

	var out struct {
		Error   string `json:"error"`
		Details []struct{ Path, Message string }
	}
	code := st.do("POST", "/v1/definitions", adminKey, hookFlow("moved",
		`{"id": "hook", "type": "webhook", "url": "http://hooks.example.com{{fields.note}}"}`), &out)
	require.Equal(t, 422, code, "%+v", out)
	require.Len(t, out.Details, 1)
	require.Equal(t, "steps[0].url", out.Details[0].Path)
	require.Contains(t, out.Details[0].Message, "template in its scheme, host or port")
	var defs struct{ Definitions []map[string]any }
	st.do("GET", "/v1/definitions", adminKey, nil, &defs)
	require.Empty(t, defs.Definitions, "nothing of a refused publish is stored")

	st.publish([]byte(hookFlow("escaped", `{"id": "hook", "type": "webhook", "url": "`+rcv.srv.URL+`/in/{{fields.note}}?n={{fields.note}}&e={{email}}"}`)))
	evil := "@127.0.0.1:1/x?y=1#z"
	code = st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "di", "email": "di+1@example.com",
		"fields": map[string]any{"note": evil}}, nil)
	require.Contains(t, []int{200, 202}, code)
	st.send(ev("e1", "go", "di", nil))
	st.deliveryOf("webhook", "/in/", "delivered", 20*time.Second)
	hits := rcv.received()
	require.Len(t, hits, 1)
	require.Equal(t, "/in/%40127.0.0.1%3A1%2Fx%3Fy%3D1%23z?n=%40127.0.0.1%3A1%2Fx%3Fy%3D1%23z&e=di%2B1%40example.com", hits[0].uri)
}

// verifyStandardWebhook checks a request as a receiver would, written from
// the Standard Webhooks specification: HMAC-SHA256 with the base64-decoded
// key over "id.timestamp.body", compared with each "v1,<base64>" of the
// header, and a timestamp within five minutes.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return fmt.Errorf("missing webhook-id or webhook-timestamp")
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s is too far from now", ts)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, b64, ok := strings.Cut(sig, ","); ok && v == "v1" {
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, m.Sum(nil)) {
				return nil
			}
		}
	}
	return fmt.Errorf("no signature matches")
}

// Every delivery is signed; a receiver verifies it with the secret. The
// webhook-id is the same on a retry. Extra headers and a bare body
// ("envelope": false, as Slack expects) arrive as written.
func TestDeliverySignedAndVerifiable(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, http.StatusServiceUnavailable) // the first attempt fails
	secret := egress.NewSecret()
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback, webhookSecret: secret})
	st.publish([]byte(hookFlow("signed", `{"id": "hook", "type": "webhook", "url": "`+rcv.srv.URL+`/slack", "envelope": false,
   "headers": {"X-Lead": "{{email}}", "Authorization": "Bearer static-token"},
   "body": {"text": "New hot lead: {{email}}"}}`)))
	code := st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "eve", "email": "eve@example.com"}, nil)
	require.Contains(t, []int{200, 202}, code)
	st.eventually("eve", 10*time.Second, func(c contact) bool { return c.Email == "eve@example.com" })
	st.send(ev("e1", "go", "eve", nil))
	waitFor(t, 20*time.Second, "the first attempt", func() bool { return len(rcv.received()) >= 1 })
	rcv.status.Store(200)
	d := st.deliveryOf("webhook", "/slack", "delivered", 20*time.Second)

	hits := rcv.received()
	require.GreaterOrEqual(t, len(hits), 2)
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	for _, h := range hits {
		require.NoError(t, verifyStandardWebhook(secret, h.header, h.body))
		require.NoError(t, wh.Verify(h.body, h.header), "the reference library verifies it too")
		require.Equal(t, hits[0].header.Get("webhook-id"), h.header.Get("webhook-id"), "webhook-id is stable across retries")
		require.Error(t, verifyStandardWebhook(egress.NewSecret(), h.header, h.body), "another secret does not verify")
		require.Error(t, verifyStandardWebhook(secret, h.header, append([]byte(" "), h.body...)), "a changed body does not verify")
	}
	require.Equal(t, d.WebhookID, hits[0].header.Get("webhook-id"))
	last := hits[len(hits)-1]
	var body map[string]any
	require.NoError(t, json.Unmarshal(last.body, &body))
	require.Equal(t, map[string]any{"text": "New hot lead: eve@example.com"}, body, "the body as written, no envelope")
	require.Equal(t, "eve@example.com", last.header.Get("X-Lead"))
	require.Equal(t, "Bearer static-token", last.header.Get("Authorization"))
	require.Equal(t, "application/json", last.header.Get("Content-Type"))
	require.NotEmpty(t, last.header.Get("Idempotency-Key"))
}

// Retries stop after the bound: the delivery is failed with its last error
// — with the URL's secrets redacted there, in the API and in Temporal.
func TestDeliveryRetriesGiveUp(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, http.StatusServiceUnavailable)
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback, deliveryRetryFor: 4 * time.Second})
	hookURL := strings.Replace(rcv.srv.URL, "http://", "http://bot:pa55word@", 1) + "/down?token=s3cret&plan=pro"
	st.publish([]byte(hookFlow("down", `{"id": "hook", "type": "webhook", "url": "`+hookURL+`"}`)))
	start := time.Now()
	st.send(ev("e1", "go", "flo", nil))

	d := st.deliveryOf("webhook", "/down", "failed", 30*time.Second)
	elapsed := time.Since(start)
	require.Less(t, elapsed, 20*time.Second, "gave up within the bound (plus a little)")
	require.True(t, strings.HasPrefix(d.LastError, "gave up after 4s of retries: POST "), d.LastError)
	require.Contains(t, d.LastError, "503 Service Unavailable")
	require.Equal(t, 503, d.ResponseCode)
	require.GreaterOrEqual(t, d.Attempts, 2)
	require.GreaterOrEqual(t, len(rcv.received()), 2)
	for _, s := range []string{d.URL, d.LastError} {
		require.NotContains(t, s, "s3cret")
		require.NotContains(t, s, "pa55word")
	}
	require.Contains(t, d.URL, "token=REDACTED&plan=pro")

	// Temporal's record of the delivery holds no secret either.
	ctx := context.Background()
	wid := contract.WorkflowID(st.TaskQueue, fmt.Sprintf("delivery-%d", d.ID))
	it := st.Client.GetWorkflowHistory(ctx, wid, "", false, 0)
	events := 0
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.NotContains(t, string(b), "s3cret")
		require.NotContains(t, string(b), "pa55word")
		events++
	}
	require.Greater(t, events, 3)
}

// A failed delivery is sent again by hand (a new workflow, not the first
// one's id) and delivered; the CRM task follows.
func TestDeliveryRetriedByHand(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, http.StatusServiceUnavailable)
	st := newStack(t, stackOptions{crmWebhook: rcv.srv.URL + "/crm", webhookAllow: egress.Loopback, deliveryRetryFor: 2 * time.Second})
	st.publish([]byte(hookFlow("by-hand", `{"id": "task", "type": "create_crm_task", "title": "Call {{email}}"},
  {"id": "hook", "type": "webhook", "url": "`+rcv.srv.URL+`/hook"}`)))
	st.send(ev("e1", "go", "gus", nil))

	crm := st.deliveryOf("crm_task", "/crm", "failed", 30*time.Second)
	hook := st.deliveryOf("webhook", "/hook", "failed", 30*time.Second)
	require.Equal(t, "failed", st.tasks("gus")[0].DeliveryStatus)

	// Listing: failed ones, newest first, a page at a time.
	failed, next := st.deliveries("?status=failed&limit=1")
	require.Len(t, failed, 1)
	require.Equal(t, hook.ID, failed[0].ID, "newest first")
	require.NotNil(t, next)
	failed, next = st.deliveries("?status=failed&limit=1&cursor=" + *next)
	require.Len(t, failed, 1)
	require.Equal(t, crm.ID, failed[0].ID)
	failed, _ = st.deliveries("?status=failed&limit=1&cursor=" + *next)
	require.Empty(t, failed)
	pending, _ := st.deliveries("?status=pending")
	require.Empty(t, pending)
	var bad map[string]any
	require.Equal(t, 400, st.do("GET", "/v1/deliveries?status=lost", adminKey, nil, &bad))
	require.Equal(t, 403, st.do("GET", "/v1/deliveries", ingestKey, nil, nil))

	// The receiver is back; retry both by hand.
	rcv.status.Store(200)
	before := len(rcv.received())
	var ans struct {
		WorkflowID string       `json:"workflow_id"`
		Delivery   deliveryView `json:"delivery"`
	}
	require.Equal(t, 202, st.do("POST", fmt.Sprintf("/v1/deliveries/%d/retry", crm.ID), adminKey, nil, &ans))
	require.Equal(t, fmt.Sprintf("delivery-%d-retry-1", crm.ID), ans.WorkflowID)
	require.Equal(t, "pending", ans.Delivery.Status)
	require.Equal(t, 202, st.do("POST", fmt.Sprintf("/v1/deliveries/%d/retry", hook.ID), adminKey, nil, nil))
	st.deliveryOf("crm_task", "/crm", "delivered", 20*time.Second)
	d := st.deliveryOf("webhook", "/hook", "delivered", 20*time.Second)
	require.Equal(t, 1, d.ManualRetries)
	require.Equal(t, hook.WebhookID, d.WebhookID)
	require.Len(t, rcv.received(), before+2)
	waitFor(t, 5*time.Second, "the CRM task's delivery status", func() bool { return st.tasks("gus")[0].DeliveryStatus == "delivered" })

	// Only a failed delivery can be retried.
	var conflict map[string]any
	require.Equal(t, 409, st.do("POST", fmt.Sprintf("/v1/deliveries/%d/retry", hook.ID), adminKey, nil, &conflict))
	require.Contains(t, conflict["error"], "is delivered")
	require.Equal(t, 404, st.do("POST", "/v1/deliveries/999999/retry", adminKey, nil, nil))
	require.Equal(t, 400, st.do("POST", "/v1/deliveries/abc/retry", adminKey, nil, nil))
}
