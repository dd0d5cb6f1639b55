package flows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const schemaFile = "schema/leadflow.schema.json"

// TestSchemaFile fails when the committed schema differs from the generated
// one; run go test ./flows -run TestSchemaFile -update to regenerate it.
func TestSchemaFile(t *testing.T) {
	t.Parallel()
	got, err := JSONSchema()
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(schemaFile), 0o755))
		require.NoError(t, os.WriteFile(schemaFile, got, 0o644))
		return
	}
	want, err := os.ReadFile(schemaFile)
	require.NoError(t, err, "run go test ./flows -run TestSchemaFile -update")
	require.Equal(t, string(want), string(got), "the schema is stale: run go test ./flows -run TestSchemaFile -update")
}

func TestSchemaContent(t *testing.T) {
	t.Parallel()
	b, err := JSONSchema()
	require.NoError(t, err)
	var s map[string]any
	require.NoError(t, json.Unmarshal(b, &s))
	require.Equal(t, "https://json-schema.org/draft/2020-12/schema", s["$schema"])
	defs := s["$defs"].(map[string]any)
	for _, name := range []string{"Flow", "Segment", "ScoreModel", "Step", "Trigger", "Condition", "Duration", "Offset", "Entry", "Document"} {
		require.Contains(t, defs, name)
	}
	flow := defs["Flow"].(map[string]any)
	require.Equal(t, false, flow["additionalProperties"])
	props := flow["properties"].(map[string]any)
	require.Equal(t, "flow", props["kind"].(map[string]any)["const"])
	require.Contains(t, props, "$schema")
	require.ElementsMatch(t, []any{"kind", "id", "name", "trigger", "entry", "steps"}, flow["required"])

	step := defs["Step"].(map[string]any)
	typ := step["properties"].(map[string]any)["type"].(map[string]any)
	require.Len(t, typ["enum"], len(stepTypes))
	require.Len(t, step["allOf"], len(stepTypes))
	require.Equal(t, "#/$defs/Duration", step["properties"].(map[string]any)["timeout"].(map[string]any)["$ref"])
	require.Equal(t, "#/$defs/Offset", step["properties"].(map[string]any)["offset"].(map[string]any)["$ref"])
	require.Equal(t, `^-?[0-9]+[smhdw]$`, defs["Offset"].(map[string]any)["pattern"])
}
