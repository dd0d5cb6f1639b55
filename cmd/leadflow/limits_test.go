package main

import (
	"bytes"
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
)

// The API's limits come from the environment, flags overriding; a value
// that is not a number stops `leadflow api` with a message naming it.
func TestAPILimitsFromEnvironment(t *testing.T) {
	bind := func(args ...string) *config {
		var c config
		fs := flag.NewFlagSet("api", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.bindAPI(fs)
		require.NoError(t, fs.Parse(args))
		return &c
	}
	c := bind()
	require.Equal(t, api.Limits{}, c.Limits, "zero: the api package's defaults")
	require.Empty(t, c.envErrors)

	t.Setenv("LEADFLOW_RATE_LIMIT", "50")
	t.Setenv("LEADFLOW_RATE_BURST", "80")
	t.Setenv("LEADFLOW_MAX_CONCURRENT", "-1")
	t.Setenv("LEADFLOW_METRICS_ADDR", "127.0.0.1:9999")
	c = bind("--rate-burst", "90")
	require.Equal(t, api.Limits{RateLimit: 50, RateBurst: 90, MaxConcurrent: -1}, c.Limits)
	require.Equal(t, "127.0.0.1:9999", c.MetricsAddr)

	t.Setenv("LEADFLOW_RATE_BURST", "lots")
	t.Setenv("LEADFLOW_ADMIN_KEY", "a")
	t.Setenv("LEADFLOW_INGEST_KEY", "b")
	var stderr bytes.Buffer
	require.Equal(t, 2, runAPI(nil, io.Discard, &stderr))
	require.Contains(t, stderr.String(), `LEADFLOW_RATE_BURST="lots" is not a number`)
}
