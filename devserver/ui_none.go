//go:build leadflow_noui

package devserver

import (
	"errors"

	"github.com/rs/zerolog"
)

// UIAvailable reports whether this build can serve the Temporal Web UI
// (see ui.go for how to include it).
const UIAvailable = false

func startUI(int, string, zerolog.Logger) (string, func(), error) {
	return "", nil, errors.New("devserver: this build has no Temporal Web UI")
}
