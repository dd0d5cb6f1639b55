package flows

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func caseDirs(t *testing.T, kind string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", kind, "*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	return dirs
}

// TestGoldenValid decodes and validates every testdata/valid case, which
// must have no error, and checks that the canonical form and a plain
// encoding/json round trip decode back to the same hash.
func TestGoldenValid(t *testing.T) {
	t.Parallel()
	dirs := caseDirs(t, "valid")
	require.GreaterOrEqual(t, len(dirs), 12)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, "input.json"))
			require.NoError(t, err)
			docs, errs := DecodeAndValidate("input.json", data, nil)
			require.Empty(t, errs, "%s", errs)
			require.NotEmpty(t, docs)
			for _, d := range docs {
				c, err := Canonical(d)
				require.NoError(t, err)
				back, errs := DecodeAndValidate("canonical.json", c, NewCatalog(docs))
				require.Empty(t, errs, "%s\n%s", errs, c)
				require.Len(t, back, 1)
				require.Equal(t, Hash(d), Hash(back[0]))
				c2, err := Canonical(back[0])
				require.NoError(t, err)
				require.Equal(t, string(c), string(c2))

				var raw []byte
				switch d.Kind() {
				case KindFlow:
					raw, err = json.Marshal(d.Flow)
				case KindSegment:
					raw, err = json.Marshal(d.Segment)
				case KindScoreModel:
					raw, err = json.Marshal(d.ScoreModel)
				}
				require.NoError(t, err)
				again, errs := Decode("marshal.json", raw)
				require.Empty(t, errs, "%s\n%s", errs, raw)
				require.Equal(t, Hash(d), Hash(again[0]))
			}
		})
	}
}

// TestGoldenInvalid checks the exact error lines of every
// testdata/invalid case against its expected.txt (-update rewrites them).
func TestGoldenInvalid(t *testing.T) {
	t.Parallel()
	dirs := caseDirs(t, "invalid")
	require.GreaterOrEqual(t, len(dirs), 40)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(dir, "input.json"))
			require.NoError(t, err)
			_, errs := DecodeAndValidate("input.json", data, nil)
			require.NotEmpty(t, errs, "an invalid case must have errors")
			got := errs.Error() + "\n"
			path := filepath.Join(dir, "expected.txt")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./flows -run TestGoldenInvalid -update to create it")
			require.Equal(t, strings.TrimRight(string(want), "\n"), strings.TrimRight(got, "\n"))
		})
	}
}
