package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// restartPostgres restarts this machine's PostgreSQL cluster the way an
// operator would (pg_ctlcluster --skip-systemctl-redirect <version> main
// restart: a fast shutdown that closes every connection, then a start).
// It returns an *errSkip when it cannot: the server in DATABASE_URL is not
// on this machine, there is no pg_ctlcluster or no single cluster version
// under /etc/postgresql, or the command fails (not root, say).
func restartPostgres(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return skipf("DATABASE_URL cannot be parsed: %v", err)
	}
	switch h := u.Hostname(); h {
	case "", "127.0.0.1", "localhost", "::1":
	default:
		if !strings.HasPrefix(h, "/") {
			return skipf("PostgreSQL at %s is not on this machine", h)
		}
	}
	bin, err := exec.LookPath("pg_ctlcluster")
	if err != nil {
		return skipf("no pg_ctlcluster on this machine (%v)", err)
	}
	ents, err := os.ReadDir("/etc/postgresql")
	if err != nil {
		return skipf("no /etc/postgresql (%v)", err)
	}
	var versions []string
	for _, e := range ents {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	if len(versions) != 1 {
		return skipf("/etc/postgresql holds %d cluster versions %v; the bench restarts only a single one", len(versions), versions)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, bin, "--skip-systemctl-redirect", versions[0], "main", "restart").CombinedOutput()
	if err != nil {
		return skipf("pg_ctlcluster --skip-systemctl-redirect %s main restart failed: %v: %s", versions[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// postmasterStart is when the server the bench uses started.
func postmasterStart(ctx context.Context, st *stack) (time.Time, error) {
	var t time.Time
	err := retryDB(ctx, func() error {
		return st.pool.QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&t)
	})
	return t, err
}

// waitPostgres waits until the server answers again and returns its start time.
func waitPostgres(ctx context.Context, st *stack, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		var t time.Time
		err := st.pool.QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&t)
		if err == nil {
			return t, nil
		}
		if time.Now().After(deadline) {
			return t, fmt.Errorf("PostgreSQL not answering %s after its restart: %w", timeout, err)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return t, err
		}
	}
}
