package devserver

import (
	"errors"

	"github.com/rs/zerolog"
)

// UIAvailable reports whether this build can serve the Temporal Web UI.
const UIAvailable = false

// startUI would serve the Web UI; this build has none.
func startUI(port int, frontend string, zl zerolog.Logger) (addr string, stop func(), err error) {
	return "", nil, errors.New("devserver: this build has no Temporal Web UI (set UIPort to 0; run temporalio/ui against FrontendHostPort instead)")
}
