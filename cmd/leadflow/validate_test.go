package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	validSegment = `{"kind": "segment", "id": "hot", "name": "Hot", "rule": {"tag": "hot"}}`
	validFlow    = `{"kind": "flow", "id": "notify-hot", "name": "Notify hot", "trigger": {"type": "segment_entered", "segment": "hot"}, "entry": "once",
	  "steps": [{"id": "task", "type": "create_crm_task", "title": "Call {{email}}"}]}`
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

func validate(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = runValidate(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateCrossFileReferences(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"segments/hot.json":      validSegment,
		"flows/notify.json":      validFlow,
		"leadflow.schema.json":   `not even json`,
		".hidden/broken.json":    `{`,
		"notes.txt":              `ignored`,
		"flows/nested/more.json": `[` + strings.Replace(validFlow, "notify-hot", "notify-hot-2", 1) + `]`,
	})
	code, out, errOut := validate(dir)
	require.Equal(t, 0, code, out+errOut)
	require.Empty(t, errOut)
	require.Equal(t, "3 documents read, 3 valid, 0 invalid\n", out)
}

func TestValidateReportsProblems(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"a.json": `[` + validSegment + `, {"kind": "segment", "id": "x", "name": "X", "rule": {"tagg": "y"}}]`,
		"b.json": `{"kind": "flow",`,
		"c.json": validFlow,
	})
	// Files and folders mix; a file named twice is read once.
	code, out, errOut := validate(dir, filepath.Join(dir, "c.json"))
	require.Equal(t, 1, code)
	require.Empty(t, errOut)
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	require.Equal(t, a+`: [1].rule.tagg: unknown field "tagg"; did you mean "tag"?`+"\n"+
		b+": syntax error at 1:17: unexpected end of JSON input inside an object; a closing '}', ']' or '\"' may be missing\n"+
		"4 documents read, 2 valid, 2 invalid\n", out)
}

func TestValidateDanglingReferenceAcrossFiles(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"flow.json": validFlow})
	code, out, _ := validate(filepath.Join(dir, "flow.json"))
	require.Equal(t, 1, code)
	require.Contains(t, out, `flow.json: trigger.segment: unknown segment "hot"; define a segment with this id`)
	require.True(t, strings.HasSuffix(out, "1 document read, 0 valid, 1 invalid\n"), out)
}

func TestValidateDuplicateIDsAcrossFiles(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"one.json": validSegment, "two.json": validSegment})
	code, out, _ := validate(dir)
	require.Equal(t, 1, code)
	require.Contains(t, out, `two.json: id: duplicate segment id "hot" (also in `)
	require.Contains(t, out, "2 documents read, 1 valid, 1 invalid\n")
}

func TestValidateUsage(t *testing.T) {
	t.Parallel()
	code, out, errOut := validate("--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "leadflow validate PATH...")
	require.Empty(t, errOut)

	code, out, errOut = validate("-h")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Usage:")
	require.Empty(t, errOut)

	code, out, errOut = validate()
	require.Equal(t, 2, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "no path given")

	code, _, errOut = validate("--strict", ".")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "unknown flag --strict")

	code, _, errOut = validate(filepath.Join(t.TempDir(), "missing.json"))
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "missing.json: no such file or directory")

	empty := writeFiles(t, map[string]string{"readme.md": "# nothing", "x.schema.json": "{}"})
	code, _, errOut = validate(empty)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "no .json files found in "+empty)
}
