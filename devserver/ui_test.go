//go:build !leadflow_noui

// Enabled together with ui.go: see there.

package devserver

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUI(t *testing.T) {
	s := startServer(t, Options{Store: StoreMemory, UIPort: -1})
	defer s.Stop()
	require.NotEmpty(t, s.UIAddress())
	resp, err := http.Get("http://" + s.UIAddress() + "/")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.True(t, strings.Contains(string(b), "<html") || strings.Contains(string(b), "<!doctype"), string(b[:200]))
	resp, err = http.Get("http://" + s.UIAddress() + "/api/v1/namespaces/default")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("api: %d %.300s", resp.StatusCode, b)
	require.Equal(t, 200, resp.StatusCode)

	// Read-only: the UI offers no write actions, and its server refuses them.
	resp, err = http.Get("http://" + s.UIAddress() + "/api/v1/settings")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(b), `"DisableWriteActions":true`)
}
