package engine

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIdemKeyCannotCollide(t *testing.T) {
	t.Parallel()
	// The tuples that collided when ids were joined with ':'.
	require.NotEqual(t,
		EngagementKey("a", "main", "r", "b:main:r:c"),
		EngagementKey("a:main:r:b", "main", "r", "c"))
	cases := [][]string{
		{"a", "b"}, {"ab", ""}, {"", "ab"}, {"a:b"}, {"1:a"}, {"a", "b", ""}, {"1:a1:b"}, {},
	}
	seen := map[string][]string{}
	for _, parts := range cases {
		k := IdemKey("rule", parts...)
		require.True(t, strings.HasPrefix(k, "rule:"))
		require.Len(t, k, len("rule:")+64, "fixed length whatever the ids")
		prev, dup := seen[k]
		require.False(t, dup, "%q and %q give the same key", parts, prev)
		seen[k] = parts
	}
	require.NotEqual(t, IdemKey("rule", "a"), IdemKey("run", "a"))
	require.Equal(t, IdemKey("rule", "a", "b"), IdemKey("rule", "a", "b"), "deterministic")
}

func TestLengthPrefixed(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1:a3:b:c0:", lengthPrefixed("a", "b:c", ""))
	require.NotEqual(t, lengthPrefixed("a", "1:b"), lengthPrefixed("a1:b"))
}

func TestDerivedIDsAreUnambiguous(t *testing.T) {
	t.Parallel()
	// Event "x" setting field "a/tag+/b" and event "x/field/a" adding tag
	// "b" gave the same id when parts were joined with '/'.
	require.NotEqual(t, derivedID("x", 1, "field", "a/tag+/b"), derivedID("x/field/a", 1, "tag+", "b"))
	require.Equal(t, "x/1/field/role", derivedID("x", 1, "field", "role"))
	require.Equal(t, "x%2Fy/2/cross/main/20/up", derivedID("x/y", 2, "cross", "main", "20", "up"))
	require.Equal(t, "100%25%2Fsure/1/created", derivedID("100%/sure", 1, "created"))
	// Same content, different positions in the chain: different ids.
	require.NotEqual(t, derivedID("x", 1, "tag+", "vip"), derivedID("x", 3, "tag+", "vip"))
}
