package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The fault run's probe flow: a short durable wait, to see waits fire on
// time after the Temporal server restarts.
const (
	ProbeFlowID = "bench-wait-probe"
	ProbeEvent  = "bench_wait_probe"
	ProbeTag    = "bench-wait-fired"
)

func probeFlow(wait time.Duration) map[string]any {
	return map[string]any{
		"kind": "flow", "id": ProbeFlowID, "name": "Bench: a short wait that must fire after restarts",
		"trigger": map[string]any{"type": "event", "event": ProbeEvent},
		"entry":   "every_time",
		"steps": []any{
			map[string]any{"id": "nap", "type": "wait", "duration": fmt.Sprintf("%ds", int(wait.Seconds()))},
			map[string]any{"id": "fired", "type": "add_tag", "tag": ProbeTag},
		},
	}
}

// apiClient talks to leadflow's HTTP API.
type apiClient struct {
	base      string
	adminKey  string
	ingestKey string
	hc        *http.Client
}

func newAPIClient(base, adminKey, ingestKey string, conns int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns + 4
	tr.MaxIdleConns = conns + 4
	return &apiClient{base: base, adminKey: adminKey, ingestKey: ingestKey, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// errPermanent marks an answer a retry cannot fix (a 4xx other than 408/429).
type errPermanent struct{ msg string }

func (e *errPermanent) Error() string { return e.msg }

// post sends body once and returns the status and answer.
func (c *apiClient) post(ctx context.Context, path, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// postRetry sends body until the API acknowledges it (2xx), as a real
// client retries what was not acknowledged: the same body, so the same
// event ids. It returns how many attempts failed.
func (c *apiClient) postRetry(ctx context.Context, path, key string, body []byte) (int, error) {
	backoff := 50 * time.Millisecond
	failed := 0
	for {
		code, ans, err := c.post(ctx, path, key, body)
		if err == nil && code/100 == 2 {
			return failed, nil
		}
		if err == nil && code/100 == 4 && code != 408 && code != 429 {
			return failed, &errPermanent{fmt.Sprintf("POST %s: %d: %s", path, code, truncate(string(ans), 500))}
		}
		failed++
		if ctx.Err() != nil {
			return failed, ctx.Err()
		}
		select {
		case <-ctx.Done():
			return failed, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Wire formats.
type wireEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	ContactID  string         `json:"contact_id"`
	Properties map[string]any `json:"properties,omitempty"`
	Timestamp  string         `json:"timestamp,omitempty"`
}

func toWire(e Event) wireEvent {
	return wireEvent{ID: e.ID, Type: e.Type, ContactID: e.ContactID, Properties: e.Properties, Timestamp: e.Timestamp}
}

type segmentIdentify struct {
	Type      string         `json:"type"`
	MessageID string         `json:"messageId"`
	UserID    string         `json:"userId"`
	Traits    map[string]any `json:"traits"`
}

func eventsBody(evs []Event) []byte {
	batch := make([]wireEvent, len(evs))
	for i, e := range evs {
		batch[i] = toWire(e)
	}
	b, _ := json.Marshal(map[string]any{"batch": batch})
	return b
}

func identifyBody(evs []Event) []byte {
	batch := make([]segmentIdentify, len(evs))
	for i, e := range evs {
		traits := make(map[string]any, len(e.Traits)+1)
		for k, v := range e.Traits {
			traits[k] = v
		}
		if e.Email != "" {
			traits["email"] = e.Email
		}
		batch[i] = segmentIdentify{Type: "identify", MessageID: e.ID, UserID: e.ContactID, Traits: traits}
	}
	b, _ := json.Marshal(map[string]any{"batch": batch})
	return b
}

// sendBatch sends a batch: its identify events through the Segment route
// (traits), the others through /v1/events, each retried until
// acknowledged. It returns the events in the order the API received them.
func (c *apiClient) sendBatch(ctx context.Context, evs []Event) ([]Event, int, error) {
	var native, ident []Event
	for _, e := range evs {
		if e.IsIdentify() {
			ident = append(ident, e)
		} else {
			native = append(native, e)
		}
	}
	retries := 0
	if len(native) > 0 {
		n, err := c.postRetry(ctx, "/v1/events", c.ingestKey, eventsBody(native))
		retries += n
		if err != nil {
			return nil, retries, err
		}
	}
	if len(ident) > 0 {
		n, err := c.postRetry(ctx, "/v1/batch", c.ingestKey, identifyBody(ident))
		retries += n
		if err != nil {
			return nil, retries, err
		}
	}
	return append(native, ident...), retries, nil
}

// loadOptions shape one load phase.
type loadOptions struct {
	senders   int
	batchSize int
	rate      float64       // events/s in all; 0: as fast as acknowledged
	linger    time.Duration // how long a sender waits to fill a batch
	// progress, when set, is the result filled as the load goes.
	progress *loadResult
}

// loadResult is what one load phase sent.
type loadResult struct {
	events   int
	requests int64
	retries  int64
	first    time.Time
	lastAck  time.Time
	err      error
}

// sentLog records, per contact, the events in the order the API
// acknowledged them: the order the reference replays.
type sentLog struct {
	mu     sync.Mutex
	events []Event
	ids    map[string]bool
}

func (l *sentLog) add(evs []Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[string]bool{}
	}
	for _, e := range evs {
		if !l.ids[e.ID] {
			l.ids[e.ID] = true
			l.events = append(l.events, e)
		}
	}
}

func (l *sentLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

func senderOf(contactID string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(contactID))
	return int(h.Sum32() % uint32(n))
}

// runLoad sends the events next yields (until it returns false or stop is
// closed) over the HTTP API. Each contact belongs to one sender, which
// sends its batches one after the other, so that a contact's events reach
// the log in the order they were generated (retries included).
func runLoad(ctx context.Context, c *apiClient, next func() (Event, bool), stop <-chan struct{}, o loadOptions, log *sentLog, watch *latencyWatch) *loadResult {
	res := o.progress
	if res == nil {
		res = &loadResult{}
	}
	chans := make([]chan Event, o.senders)
	for i := range chans {
		chans[i] = make(chan Event, 4*o.batchSize)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		lastAck  atomic.Int64
	)
	start := time.Now()
	res.first = start
	for i := range chans {
		wg.Add(1)
		go func(ch <-chan Event) {
			defer wg.Done()
			for {
				ev, ok := <-ch
				if !ok {
					return
				}
				batch := []Event{ev}
				deadline := time.After(o.linger)
			fill:
				for len(batch) < o.batchSize {
					select {
					case e, ok := <-ch:
						if !ok {
							break fill
						}
						batch = append(batch, e)
					default:
						if o.rate == 0 {
							break fill
						}
						select {
						case e, ok := <-ch:
							if !ok {
								break fill
							}
							batch = append(batch, e)
						case <-deadline:
							break fill
						}
					}
				}
				sent, retries, err := c.sendBatch(ctx, batch)
				ack := time.Now()
				atomic.AddInt64(&res.requests, 1)
				atomic.AddInt64(&res.retries, int64(retries))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					for range ch { //nolint:revive // drain so the producer never blocks
					}
					return
				}
				lastAck.Store(ack.UnixNano())
				log.add(sent)
				if watch != nil {
					watch.acked(sent, ack)
				}
			}
		}(chans[i])
	}
	n := 0
produce:
	for {
		select {
		case <-stop:
			break produce
		case <-ctx.Done():
			break produce
		default:
		}
		ev, ok := next()
		if !ok {
			break
		}
		if o.rate > 0 {
			due := start.Add(time.Duration(float64(n) / o.rate * float64(time.Second)))
			if d := time.Until(due); d > time.Millisecond {
				select {
				case <-time.After(d):
				case <-stop:
					break produce
				case <-ctx.Done():
					break produce
				}
			}
		}
		select {
		case chans[senderOf(ev.ContactID, o.senders)] <- ev:
			n++
		case <-ctx.Done():
			break produce
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	res.events = n
	if t := lastAck.Load(); t != 0 {
		res.lastAck = time.Unix(0, t)
	}
	res.err = firstErr
	if res.err == nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		res.err = ctx.Err()
	}
	return res
}

// sliceSource yields the events of a slice.
func sliceSource(evs []Event) func() (Event, bool) {
	i := 0
	return func() (Event, bool) {
		if i >= len(evs) {
			return Event{}, false
		}
		i++
		return evs[i-1], true
	}
}
