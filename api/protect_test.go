package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/store/storetest"
)

// get sends a request over HTTP with the key as a Bearer token.
func httpDo(t *testing.T, method, url, key, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// A burst beyond a client's rate limit is answered 429 with Retry-After;
// other clients are not held back by it.
func TestRateLimitPerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Limits = api.Limits{RateLimit: 2, RateBurst: 5} })
	srv := httptest.NewServer(e.h)
	defer srv.Close()

	var codes []int
	var limited *http.Response
	var limitedBody string
	for i := range 12 {
		resp, body := httpDo(t, "POST", srv.URL+"/v1/events", ingestKey, fmt.Sprintf(`{"id": "e%d", "contact_id": "c", "type": "page_visited"}`, i))
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && limited == nil {
			limited, limitedBody = resp, body
		}
	}
	require.Equal(t, []int{202, 202, 202, 202, 202}, codes[:5], "the burst is served")
	require.NotNil(t, limited, "a burst beyond the limit is refused: %v", codes)
	secs, err := strconv.Atoi(limited.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	require.GreaterOrEqual(t, secs, 1)
	require.Contains(t, limitedBody, "too many requests")
	var b map[string]any
	require.NoError(t, json.Unmarshal([]byte(limitedBody), &b))

	// The admin key is another client; probes are never limited.
	resp, _ := httpDo(t, "GET", srv.URL+"/v1/leads?model=x", adminKey, "")
	require.NotEqual(t, http.StatusTooManyRequests, resp.StatusCode)
	for range 10 {
		resp, _ = httpDo(t, "GET", srv.URL+"/healthz", "", "")
		require.Equal(t, 200, resp.StatusCode)
	}

	// Without a (valid) key, the client is its address.
	var anon []int
	for range 10 {
		resp, _ = httpDo(t, "GET", srv.URL+"/openapi.yaml", "not-a-key", "")
		anon = append(anon, resp.StatusCode)
	}
	require.Contains(t, anon, http.StatusTooManyRequests)
	require.Equal(t, 200, anon[0])
}

// Beyond MaxConcurrent requests in progress, a request waits QueueWait for
// a slot, then gets 503 with Retry-After.
func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) {
		c.Limits = api.Limits{MaxConcurrent: 1, QueueWait: 50 * time.Millisecond}
		c.ContactWait = 2 * time.Second // POST /v1/contacts holds its slot while it waits
	})
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/contacts", strings.NewReader(`{"contact_id": "slow", "email": "slow@example.com"}`))
		req.Header.Set("Authorization", "Bearer "+adminKey)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	resp, body := httpDo(t, "GET", srv.URL+"/openapi.yaml", "", "")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, body)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Contains(t, body, "busy")
	wg.Wait()
	resp, _ = httpDo(t, "GET", srv.URL+"/openapi.yaml", "", "")
	require.Equal(t, 200, resp.StatusCode)
}

// /readyz says unavailable when the database is down, without the error.
func TestReadyzHidesTheCause(t *testing.T) {
	t.Parallel()
	st := storetest.NewStore(t)
	h := api.New(api.Config{Store: st, AdminKey: adminKey, IngestKey: ingestKey})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := httpDo(t, "GET", srv.URL+"/readyz", "", "")
	require.Equal(t, 200, resp.StatusCode)
	st.Close() // the database is gone
	resp, body = httpDo(t, "GET", srv.URL+"/readyz", "", "")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.JSONEq(t, `{"status": "unavailable"}`, body)
}

// /metrics on the API's address needs the admin key.
func TestMetricsNeedTheAdminKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	resp, _ := httpDo(t, "GET", srv.URL+"/metrics", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = httpDo(t, "GET", srv.URL+"/metrics", ingestKey, "")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp, body := httpDo(t, "GET", srv.URL+"/metrics", adminKey, "")
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, body, "leadflow_http_request_seconds")
}

// The API's server has timeouts: a client that never finishes its headers
// (slowloris) is disconnected.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := api.NewHTTPServer(e.h)
	require.Equal(t, api.ReadHeaderTimeout, srv.ReadHeaderTimeout)
	require.Positive(t, srv.ReadTimeout)
	require.Positive(t, srv.WriteTimeout)
	require.Positive(t, srv.IdleTimeout)
	require.Positive(t, srv.MaxHeaderBytes)

	srv.ReadHeaderTimeout = 300 * time.Millisecond // the same server, a test's patience
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())

	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = bufio.NewReader(conn).ReadString('\n')
	require.Error(t, err, "the server closes the connection")
	require.NotContains(t, err.Error(), "timeout", "closed by the server, not by the test's deadline")
	require.Less(t, time.Since(start), 5*time.Second)
}
