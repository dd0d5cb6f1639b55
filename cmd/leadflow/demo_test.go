package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store/storetest"
)

// TestDemoCommand: leadflow demo fills a fresh database (the model "demo",
// contacts, conversions) and refuses one that already holds contacts
// unless --force.
func TestDemoCommand(t *testing.T) {
	t.Parallel()
	url := storetest.NewDatabase(t)
	var out, errOut bytes.Buffer
	code := run([]string{"demo", "--contacts", "60", "--seed", "3", "--database-url", url}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	require.Contains(t, out.String(), "done: 60 contacts")

	out.Reset()
	errOut.Reset()
	code = run([]string{"demo", "--contacts", "5", "--database-url", url}, &out, &errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "already holds contacts; use a fresh database, or --force")

	errOut.Reset()
	code = run([]string{"demo", "--contacts", "0", "--database-url", url}, &out, &errOut)
	require.Equal(t, 2, code)
	require.Contains(t, errOut.String(), "give --contacts > 0")
}
