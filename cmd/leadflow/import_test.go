package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/store/storetest"
)

// importServer is the real API on a real database; failAfter > 0 makes
// every import request after the first failAfter answer 503.
func importServer(t *testing.T, failAfter *atomic.Int64, requests *atomic.Int64) (string, func(string) int) {
	t.Helper()
	s := storetest.NewStore(t)
	h := api.New(api.Config{Store: s, AdminKey: "admin-key"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/contacts/import" {
			n := requests.Add(1)
			if f := failAfter.Load(); f > 0 && n > f {
				http.Error(w, `{"error": "down"}`, http.StatusServiceUnavailable)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	count := func(where string) int {
		var n int
		require.NoError(t, s.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events WHERE `+where).Scan(&n))
		return n
	}
	return srv.URL, count
}

func runImportCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"import", "--progress", "log"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// 2,500 rows with three bad ones: the good rows are imported in three
// batches, the bad ones listed with their line; a second run doubles
// nothing and rewrites the same rejects file.
func TestImportCommandTwice(t *testing.T) {
	var fail, reqs atomic.Int64
	url, count := importServer(t, &fail, &reqs)
	var b strings.Builder
	b.WriteString("email,id,plan,tags\n")
	for i := range 2500 {
		switch i {
		case 10:
			b.WriteString("nobody-at-example.com,,free,\n") // line 12
		case 1500:
			b.WriteString("x@example.com,\"bad\x01id\",free,\n") // line 1502
		case 2400:
			b.WriteString("y@example.com,y,free,contact_created\n") // line 2402: fine, a tag
		default:
			fmt.Fprintf(&b, "user%d@example.com,,pro,a;b\n", i)
		}
	}
	b.WriteString("\"unterminated,quote\n") // line 2502
	file := filepath.Join(t.TempDir(), "contacts.csv")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))

	code, out, errs := runImportCmd("--api", url, "--key", "admin-key", file)
	require.Equal(t, 0, code, "stderr: %s", errs)
	require.Contains(t, out, "2501 rows, 2498 new, 0 already there, 3 rejected")
	require.Contains(t, out, "rows/s")
	require.Equal(t, int64(3), reqs.Load(), "batches of 1000 rows")
	require.Equal(t, 2498, count(`id LIKE 'import:%'`))
	rejects, err := os.ReadFile(file + ".rejects.csv")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(rejects)), "\n")
	require.Len(t, lines, 4, "%s", rejects)
	require.Equal(t, "line,reason", lines[0])
	require.True(t, strings.HasPrefix(lines[1], "12,"), lines[1])
	require.Contains(t, lines[1], "not a valid email address")
	require.True(t, strings.HasPrefix(lines[2], "1502,"), lines[2])
	require.Contains(t, lines[2], "control characters")
	require.True(t, strings.HasPrefix(lines[3], "2502,"), lines[3])
	require.Contains(t, lines[3], "not valid CSV")
	_, err = os.Stat(file + ".import-state")
	require.True(t, os.IsNotExist(err), "the state file is removed once the import is complete")

	code, out, errs = runImportCmd("--api", url, "--key", "admin-key", file)
	require.Equal(t, 0, code, "stderr: %s", errs)
	require.Contains(t, out, "2501 rows, 0 new, 2498 already there, 3 rejected")
	require.Equal(t, 2498, count(`id LIKE 'import:%'`))
	again, err := os.ReadFile(file + ".rejects.csv")
	require.NoError(t, err)
	require.Equal(t, string(rejects), string(again))
}

// An import cut off after its first batch stops with the state saved; the
// same command then resumes after the acknowledged batch.
func TestImportCommandResumes(t *testing.T) {
	importRetries, importPause = 2, time.Millisecond
	t.Cleanup(func() { importRetries, importPause = 6, 500*time.Millisecond })
	var fail, reqs atomic.Int64
	fail.Store(1)
	url, count := importServer(t, &fail, &reqs)
	var b strings.Builder
	b.WriteString("contact_id,Employees\n")
	for i := range 2200 {
		fmt.Fprintf(&b, "c%05d,%d\n", i, i)
	}
	file := filepath.Join(t.TempDir(), "people.csv")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))

	code, _, errs := runImportCmd("--api", url, "--key", "admin-key", "--types", "Employees=number", file)
	require.Equal(t, 1, code)
	require.Contains(t, errs, "503")
	require.Contains(t, errs, "nothing after line 1001 was imported: run the same command again to resume")
	require.Equal(t, 1000, count(`id LIKE 'import:%'`))
	state, err := os.ReadFile(file + ".import-state")
	require.NoError(t, err)
	require.Contains(t, string(state), `"line":1002`)

	fail.Store(0)
	reqs.Store(0)
	code, out, errs := runImportCmd("--api", url, "--key", "admin-key", "--types", "Employees=number", file)
	require.Equal(t, 0, code, "stderr: %s", errs)
	require.Contains(t, errs, "resuming "+file+" at line 1002 (1000 rows done")
	require.Equal(t, int64(2), reqs.Load(), "only the batches not acknowledged are sent")
	require.Contains(t, out, "2200 rows, 2200 new, 0 already there, 0 rejected")
	require.Equal(t, 2200, count(`id LIKE 'import:%'`))
	require.Equal(t, 1, count(`contact_id = 'c02199' AND traits = '{"Employees": 2199}'::jsonb`), "typed numbers")
}
