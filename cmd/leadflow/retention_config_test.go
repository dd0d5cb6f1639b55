package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store/storetest"
)

// LEADFLOW_EVENT_RETENTION and --event-retention: read, shown in --help,
// malformed values refused, and a horizon shorter than a published
// definition's window refused at start with the definition named.
func TestEventRetentionSetting(t *testing.T) {
	var out bytes.Buffer
	require.Equal(t, 0, run([]string{"--help"}, &out, io.Discard))
	require.Contains(t, out.String(), "LEADFLOW_EVENT_RETENTION")

	bind := func(args ...string) (*config, string, error) {
		var c config
		var help bytes.Buffer
		fs := newFlagSet("worker", "", &help)
		c.bindRetention(fs)
		err := fs.Parse(args)
		return &c, help.String(), err
	}
	c, _, err := bind()
	require.NoError(t, err)
	require.Zero(t, c.EventRetention)
	_, help, err := bind("--help")
	require.ErrorIs(t, err, flag.ErrHelp)
	require.Contains(t, help, "-event-retention")
	require.Contains(t, help, "LEADFLOW_EVENT_RETENTION")

	t.Setenv("LEADFLOW_EVENT_RETENTION", "400d")
	c, _, err = bind()
	require.NoError(t, err)
	require.Equal(t, 400*24*time.Hour, c.EventRetention)
	c, _, err = bind("--event-retention", "30d")
	require.NoError(t, err)
	require.Equal(t, 30*24*time.Hour, c.EventRetention, "the flag overrides the environment")
	_, _, err = bind("--event-retention", "30 days")
	require.ErrorContains(t, err, `invalid value "30 days" for flag -event-retention: "30 days": unknown unit`)
	t.Setenv("LEADFLOW_EVENT_RETENTION", "soon")
	c, _, _ = bind()
	require.Len(t, c.envErrors, 1)
	require.ErrorContains(t, c.envErrors[0], `LEADFLOW_EVENT_RETENTION: "soon" is not a duration`)

	// The shipped definitions read 60 days back at most (dead ends: no
	// opens in 60 days).
	s := storetest.NewStore(t)
	ctx := context.Background()
	_, err = engine.PublishShipped(ctx, s)
	require.NoError(t, err)
	c = &config{EventRetention: 30 * 24 * time.Hour}
	err = c.checkRetention(ctx, s)
	require.ErrorContains(t, err, `reads events 60d back`)
	require.ErrorContains(t, err, `set LEADFLOW_EVENT_RETENTION to at least 60d`)
	c.EventRetention = 60 * 24 * time.Hour
	require.NoError(t, c.checkRetention(ctx, s))
}
