package api

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits protect the API from clients that send too much: a rate limit per
// client and a cap on requests served at once. The zero value means the
// defaults; a negative RateLimit or MaxConcurrent turns that limit off.
//
// A client is the admin key; the ingest key from one address (the ingest
// key is the Segment write key, public wherever analytics.js runs, so one
// abuser of it must not use up everyone's share); or, without a valid key,
// the address alone. The address is the connection's remote address: behind
// a proxy every client shares the proxy's.
type Limits struct {
	// RateLimit is the sustained requests per second of one client
	// (default 1,000), RateBurst how many it may send at once beyond it
	// (default 2,000). Over it: 429 with Retry-After.
	RateLimit float64
	RateBurst int
	// MaxConcurrent is how many requests are served at once (default 512);
	// a request beyond it waits up to QueueWait (default 2s) for a slot,
	// then gets 503 with Retry-After.
	MaxConcurrent int
	QueueWait     time.Duration
}

// Default limits: generous, so that normal use and the benchmark (4 clients
// of 100-event batches) never meet them.
const (
	DefaultRateLimit     = 1000
	DefaultRateBurst     = 2000
	DefaultMaxConcurrent = 512
	DefaultQueueWait     = 2 * time.Second
)

func (l Limits) withDefaults() Limits {
	if l.RateLimit == 0 {
		l.RateLimit = DefaultRateLimit
	}
	if l.RateBurst <= 0 {
		l.RateBurst = max(DefaultRateBurst, int(math.Ceil(l.RateLimit)))
	}
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = DefaultMaxConcurrent
	}
	if l.QueueWait <= 0 {
		l.QueueWait = DefaultQueueWait
	}
	return l
}

// Server timeouts (see NewHTTPServer).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 60 * time.Second // a whole request, body included (1 MiB at most)
	WriteTimeout      = 60 * time.Second // from the end of the headers to the end of the response
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 64 << 10
)

// NewHTTPServer returns the server the API is served with: a client that
// sends its headers or body slowly, or never reads its response, is cut off
// instead of holding a connection for ever.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// unlimitedPaths are probes that must answer whatever the load.
var unlimitedPaths = map[string]bool{"/healthz": true, "/readyz": true}

// protector applies Limits. Rate limiting uses golang.org/x/time/rate (a
// token bucket per client); idle clients' buckets are dropped.
type protector struct {
	limits  Limits
	slots   chan struct{} // nil: no concurrency cap
	mu      sync.Mutex
	clients map[string]*clientBucket
	swept   time.Time
	now     func() time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxBuckets bounds the buckets kept; past it, idle ones are swept at once.
const (
	maxBuckets  = 100_000
	bucketIdle  = 5 * time.Minute
	sweepPeriod = time.Minute
)

func newProtector(l Limits, now func() time.Time) *protector {
	l = l.withDefaults()
	p := &protector{limits: l, clients: map[string]*clientBucket{}, now: now}
	if l.MaxConcurrent > 0 {
		p.slots = make(chan struct{}, l.MaxConcurrent)
	}
	return p
}

// clientOf names the client a request is counted against.
func (s *server) clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if key, ok := credential(r); ok {
		switch {
		case keyEqual(key, s.cfg.AdminKey):
			return "admin"
		case keyEqual(key, s.cfg.IngestKey):
			return "ingest " + host
		}
	}
	return "address " + host
}

// allow takes a token from the client's bucket, or says how long until one
// is there.
func (p *protector) allow(client string) (bool, time.Duration) {
	if p.limits.RateLimit < 0 {
		return true, 0
	}
	now := p.now()
	p.mu.Lock()
	if len(p.clients) >= maxBuckets || now.Sub(p.swept) > sweepPeriod {
		for k, b := range p.clients {
			if now.Sub(b.seen) > bucketIdle {
				delete(p.clients, k)
			}
		}
		p.swept = now
	}
	b := p.clients[client]
	if b == nil {
		b = &clientBucket{lim: rate.NewLimiter(rate.Limit(p.limits.RateLimit), p.limits.RateBurst)}
		if len(p.clients) < maxBuckets {
			p.clients[client] = b
		}
	}
	b.seen = now
	p.mu.Unlock()
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// acquire waits for a slot to serve a request, up to QueueWait.
func (p *protector) acquire(ctx context.Context) bool {
	if p.slots == nil {
		return true
	}
	select {
	case p.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(p.limits.QueueWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (p *protector) release() {
	if p.slots != nil {
		<-p.slots
	}
}

// retryAfter is a Retry-After value: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// protect applies the rate limit and the concurrency cap.
func (s *server) protect(next http.Handler) http.Handler {
	p := s.protector
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unlimitedPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		client := s.clientOf(r)
		if ok, wait := p.allow(client); !ok {
			w.Header().Set("Retry-After", retryAfter(wait))
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
				"too many requests: at most %g per second (bursts of %d) per client; retry after %s s",
				p.limits.RateLimit, p.limits.RateBurst, retryAfter(wait)))
			return
		}
		if !p.acquire(r.Context()) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(
				"the server is busy (%d requests in progress); retry after 1 s", p.limits.MaxConcurrent))
			return
		}
		defer p.release()
		next.ServeHTTP(w, r)
	})
}
