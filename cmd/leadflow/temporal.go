package main

import (
	"fmt"
	"io"

	"github.com/leadflow/leadflow/bench"
)

// runBenchTemporal is `leadflow bench temporal-server`: the embedded
// Temporal server alone in its process, so that the bench can kill it
// (kill -9) and start it again on the same SQLite file. It prints
// "READY host:port" once the frontend answers; not listed in --help.
func runBenchTemporal(args []string, stdout, stderr io.Writer) int {
	var o bench.TemporalServerOptions
	fs := newFlagSet("bench temporal-server", "The embedded Temporal server in a process of its own, for leadflow bench.", stderr)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	ctx, cancel := interruptContext()
	defer cancel()
	if err := bench.RunTemporalServer(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "leadflow bench temporal-server:", err)
		return 1
	}
	return 0
}
