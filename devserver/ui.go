//go:build !leadflow_noui

// This file serves the Temporal Web UI from github.com/temporalio/ui-server/v2
// (assets embedded in that module; v2.55.0 is the newest that builds with Go
// 1.26.8). It is left out of the build until go.mod requires that module:
//
//   go get github.com/temporalio/ui-server/v2@v2.55.0 && go mod tidy
//
// then replace the build line above with "//go:build !leadflow_noui", give
// ui_none.go "//go:build leadflow_noui", and do the same for ui_test.go.

package devserver

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// UIAvailable reports whether this build can serve the Temporal Web UI.
const UIAvailable = true

// startUI serves the Web UI (assets embedded in the ui-server module) on
// 127.0.0.1:port against the frontend.
func startUI(port int, frontend string, zl zerolog.Logger) (string, func(), error) {
	if port < 0 {
		p, err := freePort()
		if err != nil {
			return "", nil, err
		}
		port = p
	}
	if err := checkPortFree(port); err != nil {
		return "", nil, fmt.Errorf("devserver: UI port %d: %w", port, err)
	}
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                loopback,
		Port:                port,
		TemporalGRPCAddress: frontend,
		EnableUI:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true,
		// Read-only: no terminate, cancel, signal, reset or start from the
		// UI; partition workflows are leadflow's to run.
		DisableWriteActions: true,
	}))
	errc := make(chan error, 1)
	go func() { errc <- ui.Start() }()
	addr := hostPort(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-errc:
			return "", nil, fmt.Errorf("devserver: UI server: %w", err)
		default:
		}
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			ui.Stop()
			return "", nil, errors.New("devserver: UI server did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, ui.Stop, nil
}
