package store

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// Errors are stored in text columns, which refuse NUL and invalid UTF-8:
// an error quoting a bad value must still be recordable.
func TestErrorTextIsStorable(t *testing.T) {
	t.Parallel()
	got := ErrorText(errors.New("bad value \"a\x00b\" and \xff"))
	require.NotContains(t, got, "\x00")
	require.True(t, utf8.ValidString(got))
	require.Equal(t, "bad value \"a\\x00b\" and \uFFFD", got)
	require.Equal(t, "unknown error", ErrorText(nil))
	long := ErrorText(errors.New(strings.Repeat("é", 5000)))
	require.True(t, utf8.ValidString(long))
	require.LessOrEqual(t, len(long), maxErrorText+len("…"))
}

func TestDecodeObjectNamesTheHugeNumber(t *testing.T) {
	t.Parallel()
	var m map[string]any
	err := decodeObject(`{"a": 1, "b": {"c": [2, 1e400]}}`, "properties", &m)
	require.EqualError(t, err, "properties.b.c[1]: a number beyond the range leadflow computes with (float64, about ±1.8e308)")
	var ok map[string]any
	require.NoError(t, decodeObject(`{"a": 1.5}`, "traits", &ok))
	require.Equal(t, map[string]any{"a": 1.5}, ok)
}
