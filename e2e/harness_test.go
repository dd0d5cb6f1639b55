package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/definitions"
	"github.com/leadflow/leadflow/devserver"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
	"github.com/leadflow/leadflow/temporallog"
	"github.com/leadflow/leadflow/worker"
)

// One embedded Temporal server for the package; every test gets its own
// database and task queue (workflow ids start with the task queue).
var (
	temporalServer *devserver.Server
	queueSeq       atomic.Int64
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := devserver.Start(ctx, devserver.Options{Store: devserver.StoreMemory, FrontendPort: 0, Logger: zerolog.Nop()})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the embedded Temporal server:", err)
		os.Exit(1)
	}
	temporalServer = s
	code := m.Run()
	_ = s.Stop()
	os.Exit(code)
}

const (
	adminKey  = "test-admin"
	ingestKey = "test-ingest"
	viewerKey = "test-viewer" // the console's read-only sign-in
)

// stack is leadflow running against the real PostgreSQL and the embedded
// Temporal server: API over HTTP, one worker, a private database and task queue.
type stack struct {
	t         *testing.T
	Store     *store.Store
	Client    client.Client
	TaskQueue string
	URL       string
	CRMURL    string
	worker    sdkworker.Worker
	log       zerolog.Logger
	opts      stackOptions
	// Deployment is the database's identity, which the worker serves.
	Deployment store.Deployment
}

type stackOptions struct {
	shipped    bool   // publish the shipped definitions
	crmWebhook string // CRM_WEBHOOK_URL
	// Deliveries: LEADFLOW_WEBHOOK_ALLOW (httptest receivers listen on
	// loopback: tests that use them pass egress.Loopback), the signing
	// secret (LEADFLOW_WEBHOOK_SECRET) and the retry bound.
	webhookAllow     string
	webhookSecret    string
	deliveryRetryFor time.Duration
	// eventRetention: LEADFLOW_EVENT_RETENTION of the API and the worker.
	eventRetention time.Duration
}

func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	s := storetest.NewStore(t)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	c, err := client.Dial(client.Options{HostPort: temporalServer.FrontendHostPort(), Namespace: temporalServer.Namespace(),
		Logger: temporallog.New(log)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	st := &stack{t: t, Store: s, Client: c, TaskQueue: fmt.Sprintf("test-%s-%d", t.Name(), queueSeq.Add(1)), CRMURL: opts.crmWebhook, log: log, opts: opts}
	st.Deployment, err = s.Deployment(ctx)
	require.NoError(t, err)
	if opts.shipped {
		// All files in one request: they refer to each other.
		var all []json.RawMessage
		for _, name := range definitions.Names() {
			b, err := definitions.FS.ReadFile(name)
			require.NoError(t, err)
			var many []json.RawMessage
			if json.Unmarshal(b, &many) != nil {
				many = []json.RawMessage{b}
			}
			all = append(all, many...)
		}
		body, err := json.Marshal(all)
		require.NoError(t, err)
		st.startAPI()
		st.publish(body)
	} else {
		st.startAPI()
	}
	st.startWorker()
	_ = ctx
	return st
}

func (st *stack) startAPI() {
	h := api.New(api.Config{Store: st.Store, Waker: worker.NewWaker(st.Store, st.log), InsertsNotify: true,
		AdminKey: adminKey, IngestKey: ingestKey, ViewerKey: viewerKey, Log: st.log, EventRetention: st.opts.eventRetention})
	srv := httptest.NewServer(h)
	st.t.Cleanup(srv.Close)
	st.URL = srv.URL
}

func (st *stack) startWorker() {
	signer, err := egress.ParseSecrets(st.opts.webhookSecret)
	require.NoError(st.t, err)
	acts := &activities.Activities{
		Engine: engine.New(st.Store, st.CRMURL, st.log), Store: st.Store, Client: st.Client,
		TaskQueue: st.TaskQueue, Log: st.log, Deployment: st.Deployment,
		HTTP:           egress.NewClient(egress.MustParseAllow(st.opts.webhookAllow), 5*time.Second),
		Deliveries:     activities.DeliveryOptions{Signer: signer, RetryFor: st.opts.deliveryRetryFor},
		EventRetention: st.opts.eventRetention,
		Namespace:      temporalServer.Namespace(),
	}
	w := worker.New(st.Client, st.TaskQueue, acts, sdkworker.Options{Identity: worker.Identity(st.Deployment.ID)})
	require.NoError(st.t, w.Start())
	require.NoError(st.t, worker.EnsurePartitions(context.Background(), st.Client, st.TaskQueue, st.Deployment.ID))
	st.worker = w
	st.t.Cleanup(func() {
		if st.worker != nil {
			st.worker.Stop()
			st.worker = nil
		}
	})
}

func (st *stack) stopWorker() {
	st.worker.Stop()
	st.worker = nil
}

// do sends a request and decodes the JSON answer into out (when not nil).
func (st *stack) do(method, path, key string, body any, out any) int {
	st.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, err := json.Marshal(b)
		require.NoError(st.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, st.URL+path, rd)
	require.NoError(st.t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(st.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(st.t, err)
	if out != nil && len(raw) > 0 {
		require.NoError(st.t, json.Unmarshal(raw, out), "body: %s", raw)
	}
	return resp.StatusCode
}

func (st *stack) publish(doc []byte) {
	st.t.Helper()
	var out map[string]any
	code := st.do("POST", "/v1/definitions", adminKey, doc, &out)
	require.Contains(st.t, []int{200, 201}, code, "publish: %v", out)
}

// send posts events and requires 202.
func (st *stack) send(events ...map[string]any) {
	st.t.Helper()
	var body any = events[0]
	if len(events) > 1 {
		body = map[string]any{"batch": events}
	}
	var out map[string]any
	code := st.do("POST", "/v1/events", ingestKey, body, &out)
	require.Equal(st.t, 202, code, "events: %v", out)
}

// contact is GET /v1/contacts/{id}.
type contact struct {
	ContactID          string         `json:"contact_id"`
	Email              string         `json:"email"`
	Fields             map[string]any `json:"fields"`
	Tags               []string       `json:"tags"`
	Stage              string         `json:"stage"`
	Disqualified       bool           `json:"disqualified"`
	DisqualifiedReason string         `json:"disqualified_reason"`
	Scores             map[string]struct {
		Score float64 `json:"score"`
		Band  string  `json:"band"`
	} `json:"scores"`
	Segments []string         `json:"segments"`
	FlowRuns []map[string]any `json:"flow_runs"`
}

func (st *stack) contact(id string) (contact, int) {
	var c contact
	code := st.do("GET", "/v1/contacts/"+id, adminKey, nil, &c)
	return c, code
}

// eventually polls until cond holds for the contact, failing after timeout.
func (st *stack) eventually(id string, timeout time.Duration, cond func(c contact) bool) contact {
	st.t.Helper()
	deadline := time.Now().Add(timeout)
	var last contact
	for time.Now().Before(deadline) {
		c, code := st.contact(id)
		if code == 200 {
			last = c
			if cond(c) {
				return c
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	st.t.Fatalf("contact %s did not reach the expected state within %s; last: %+v", id, timeout, last)
	return last
}

// settled waits until every event sent is applied.
func (st *stack) settled() {
	st.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		n, err := st.Store.PendingCount(context.Background())
		require.NoError(st.t, err)
		if n == 0 {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	st.t.Fatal("events still pending after 20s")
}

type task struct {
	ID             int64  `json:"id"`
	ContactID      string `json:"contact_id"`
	Title          string `json:"title"`
	Description    string `json:"description"`
	Assignee       string `json:"assignee"`
	Reason         string `json:"reason"`
	DeliveryStatus string `json:"delivery_status"`
}

func (st *stack) tasks(contactID string) []task {
	st.t.Helper()
	var out struct {
		Tasks []task `json:"tasks"`
	}
	code := st.do("GET", "/v1/tasks?contact_id="+contactID, adminKey, nil, &out)
	require.Equal(st.t, 200, code)
	return out.Tasks
}

type ledgerEntry struct {
	Model   string  `json:"model"`
	Points  float64 `json:"points"`
	Kind    string  `json:"kind"`
	Reason  string  `json:"reason"`
	RuleID  string  `json:"rule_id"`
	FlowID  string  `json:"flow_id"`
	StepID  string  `json:"step_id"`
	EventID string  `json:"event_id"`
}

func (st *stack) history(contactID string) ([]ledgerEntry, map[string]float64) {
	st.t.Helper()
	var out struct {
		Entries []ledgerEntry      `json:"entries"`
		Totals  map[string]float64 `json:"totals"`
	}
	code := st.do("GET", "/v1/contacts/"+contactID+"/score-history", adminKey, nil, &out)
	require.Equal(st.t, 200, code)
	return out.Entries, out.Totals
}

func ev(id, typ, contactID string, props map[string]any) map[string]any {
	e := map[string]any{"id": id, "type": typ, "contact_id": contactID}
	if props != nil {
		e["properties"] = props
	}
	return e
}
