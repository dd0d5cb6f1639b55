package egress

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func receiver(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	srv, hits := receiver(t)

	_, err := NewClient(Policy{}, 5*time.Second).Post(srv.URL+"/x", "application/json", nil)
	r := Refused(err)
	require.NotNil(t, r, "got %v", err)
	require.Equal(t, ClassLoopback, r.Class)
	require.Equal(t, int64(0), hits.Load(), "nothing may reach a refused address")

	resp, err := NewClient(MustParseAllow(Loopback), 5*time.Second).Post(srv.URL+"/x", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, int64(1), hits.Load())
}

// The check is on the address dialled, not the name: "localhost" is not
// listed anywhere, yet it is refused because it resolves to loopback; and
// listing the name trusts whatever it resolves to.
func TestClientChecksTheResolvedAddress(t *testing.T) {
	t.Parallel()
	srv, hits := receiver(t)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	u := "http://localhost:" + port + "/x"

	_, err = NewClient(Policy{}, 5*time.Second).Post(u, "application/json", nil)
	r := Refused(err)
	require.NotNil(t, r, "got %v", err)
	require.Equal(t, "localhost", r.Host)
	require.Equal(t, ClassLoopback, r.Class)
	require.Contains(t, err.Error(), "localhost (127.0.0.1)")

	resp, err := NewClient(MustParseAllow("localhost"), 5*time.Second).Post(u, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, int64(1), hits.Load())
}

func TestDialerRefusesMetadataHostsByName(t *testing.T) {
	t.Parallel()
	d := &Dialer{}
	_, err := d.DialContext(context.Background(), "tcp", "metadata.google.internal:80")
	r := Refused(err)
	require.NotNil(t, r)
	require.Equal(t, ClassMetadata, r.Class)
	require.Contains(t, err.Error(), "metadata.google.internal")

	_, err = d.DialContext(context.Background(), "tcp", "169.254.169.254:80")
	require.Equal(t, ClassMetadata, Refused(err).Class)
	_, err = d.DialContext(context.Background(), "tcp", "[fd00:ec2::254]:80")
	require.Equal(t, ClassMetadata, Refused(err).Class)
	_, err = d.DialContext(context.Background(), "tcp", "[::ffff:169.254.169.254]:80")
	require.Equal(t, ClassMetadata, Refused(err).Class)
}

func TestClientDoesNotFollowRedirectsNorUseProxies(t *testing.T) {
	t.Parallel()
	target, hits := receiver(t)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL+"/elsewhere", http.StatusFound))
	t.Cleanup(redirect.Close)

	c := NewClient(MustParseAllow(Loopback), 5*time.Second)
	resp, err := c.Post(redirect.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, target.URL+"/elsewhere", resp.Header.Get("Location"))
	require.Equal(t, int64(0), hits.Load(), "the redirect must not be followed")

	tr := c.Transport.(*http.Transport)
	require.Nil(t, tr.Proxy, "a proxy from the environment would connect past the fence")
}
