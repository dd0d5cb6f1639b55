package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Dialer opens the connections of deliveries. It checks every address it
// is about to connect to — after DNS resolution, in the net.Dialer's
// Control hook, so the check is on the address actually dialled — against
// its Policy. A host the policy names is trusted whatever it resolves to.
type Dialer struct {
	Policy Policy
	// Timeout bounds connecting (default 10s).
	Timeout time.Duration
}

// DialContext connects like net.Dialer.DialContext, refusing addresses the
// policy does not allow with a *RefusedError (wrapped in a *net.OpError).
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("egress: address %q: %w", address, err)
	}
	trusted := d.Policy.AllowsHost(host)
	if !trusted && IsMetadataHost(host) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &RefusedError{Host: host, Class: ClassMetadata}}
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	nd := net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
		Control: func(network, addr string, _ syscall.RawConn) error {
			if trusted {
				return nil
			}
			ap, err := netip.ParseAddrPort(addr)
			if err != nil {
				return fmt.Errorf("egress: cannot check dialled address %q: %w", addr, err)
			}
			return d.Policy.Check(host, ap.Addr())
		},
	}
	return nd.DialContext(ctx, network, address)
}

// NewClient returns the HTTP client deliveries use: connections through a
// Dialer with the policy, no proxy (HTTP_PROXY and friends are ignored: a
// proxy would connect on our behalf, past the fence), and redirects not
// followed (the 3xx answer is returned to the caller, which treats it as a
// failure). timeout bounds a whole request (default 15s).
func NewClient(p Policy, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	d := &Dialer{Policy: p}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   10,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Refused returns the *RefusedError in err's chain, or nil.
func Refused(err error) *RefusedError {
	var r *RefusedError
	if errors.As(err, &r) {
		return r
	}
	return nil
}
