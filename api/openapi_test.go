package api

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// specOperations reads the "paths" section of the embedded spec line by
// line: path → methods (lower case).
func specOperations(t *testing.T) map[string][]string {
	t.Helper()
	ops := map[string][]string{}
	inPaths := false
	current := ""
	for _, line := range strings.Split(string(openAPISpec), "\n") {
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " "):
			inPaths = false
		case inPaths && strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			current = strings.TrimSuffix(strings.TrimSpace(line), ":")
			ops[current] = nil
		case inPaths && current != "" && len(line) > 4 && line[:4] == "    " && line[4] != ' ' && strings.HasSuffix(line, ":"):
			ops[current] = append(ops[current], strings.TrimSuffix(strings.TrimSpace(line), ":"))
		}
	}
	return ops
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	require.True(t, strings.HasPrefix(string(openAPISpec), "openapi: 3.1."))
	ops := specOperations(t)
	s := &server{}
	want := map[string][]string{}
	for _, rt := range s.routes() {
		want[rt.path] = append(want[rt.path], strings.ToLower(rt.method))
	}
	for path, methods := range want {
		require.Contains(t, ops, path, "route %s is not in api/openapi.yaml", path)
		require.ElementsMatch(t, methods, ops[path], "methods of %s in api/openapi.yaml", path)
	}
	for path := range ops {
		require.Contains(t, want, path, "api/openapi.yaml describes %s, which is not a route", path)
	}
}
