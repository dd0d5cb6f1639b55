package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// leadflow preview against a database whose history the engine applied:
// the text report and the JSON one show the draft's effect, the database
// is left as it was, and an invalid draft is refused with its path.
func TestPreviewCommand(t *testing.T) {
	t.Parallel()
	url := storetest.NewDatabase(t)
	ctx := context.Background()
	s, err := store.Open(ctx, url, false)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	const published = `{"kind": "score_model", "id": "web", "name": "Web",
 "bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "hot", "min": 20, "color": "#ef4444"}],
 "engagement": [{"id": "page", "on": {"type": "page_visited"}, "points": 5}]}`
	docs, errs := flows.Decode("m.json", []byte(published))
	require.Empty(t, errs)
	_, err = engine.Publish(ctx, s, docs)
	require.NoError(t, err)
	eng := engine.New(s, "", zerolog.Nop())
	at := time.Now().Add(-48 * time.Hour).UTC()
	for i := range 4 {
		for j := 0; j <= i; j++ {
			_, _, err := s.InsertEvents(ctx, []store.EventRow{{ID: fmt.Sprintf("e%d-%d", i, j), ContactID: fmt.Sprintf("k%d", i),
				Type: "page_visited", OccurredAt: at, Properties: map[string]any{"url": "/"}}})
			require.NoError(t, err)
		}
	}
	for p := 0; p < store.Partitions; p++ {
		_, err := eng.ApplyPartition(ctx, p, at, 100)
		require.NoError(t, err)
	}
	dir := t.TempDir()
	draft := filepath.Join(dir, "web.json")
	require.NoError(t, os.WriteFile(draft, []byte(`{"kind": "score_model", "id": "web", "name": "Web",
 "bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "hot", "min": 20, "color": "#ef4444"}],
 "engagement": [{"id": "page", "on": {"type": "page_visited"}, "points": 10}]}`), 0o644))

	var out, errb bytes.Buffer
	code := run([]string{"preview", "--database-url", url, "--since", "7d", "--progress", "none", draft}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	text := out.String()
	// Published: 5, 10, 15, 20 (one hot); draft: 10, 20, 30, 40 (three hot).
	require.Contains(t, text, "4 contacts, 10 events replayed")
	require.Contains(t, text, "Score model web (draft replaces v1)")
	require.Regexp(t, `band hot\s+1\s+3`, text)
	require.Contains(t, text, "band changes: 2 contacts (cold -> hot 2)")

	out.Reset()
	code = run([]string{"preview", "--database-url", url, "--since", "7d", "--progress", "none", "--json", draft}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	var rep struct {
		Contacts int `json:"contacts"`
		Models   []struct {
			Figures struct {
				Draft struct {
					Mean float64 `json:"mean"`
				} `json:"draft"`
			} `json:"figures"`
		} `json:"models"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep))
	require.Equal(t, 4, rep.Contacts)
	require.Equal(t, 25.0, rep.Models[0].Figures.Draft.Mean)
	var ledger int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM score_ledger`).Scan(&ledger))
	require.Equal(t, 10, ledger, "nothing written")

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"kind": "score_model", "id": "web"}`), 0o644))
	errb.Reset()
	code = run([]string{"preview", "--database-url", url, "--progress", "none", bad}, &out, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), "bad.json")
	require.Contains(t, errb.String(), "name")
}
