package flows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
)

// Canonical returns the document's canonical JSON: object keys sorted, no
// insignificant whitespace, numbers in their shortest form, optional fields
// that are zero or empty left out, durations in canonical form ("1440h" is
// "60d"), defaults filled in (a score_threshold_crossed trigger's direction
// "up") and "kind" set from the part of the Document that is set. Two
// documents that differ only in layout, key order or duration spelling have
// the same canonical form.
func Canonical(d Document) ([]byte, error) {
	var v any
	switch {
	case d.Flow != nil:
		f := *d.Flow
		f.Kind = KindFlow
		defaultTrigger(&f.Trigger)
		v = &f
	case d.Segment != nil:
		s := *d.Segment
		s.Kind = KindSegment
		v = &s
	case d.ScoreModel != nil:
		m := *d.ScoreModel
		m.Kind = KindScoreModel
		m.Engagement = slices.Clone(m.Engagement)
		for i := range m.Engagement {
			defaultTrigger(&m.Engagement[i].On)
		}
		v = &m
	default:
		return nil, errors.New("canonical form of an empty document")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, tree); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Hash returns the hex SHA-256 of the document's canonical form, or "" when
// it has none (an empty document, or values JSON cannot encode).
func Hash(d Document) string {
	b, err := Canonical(d)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case string:
		return writeString(buf, x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return err
		}
		return writeNumber(buf, f)
	case float64:
		return writeNumber(buf, x)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeString(buf, k); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeCanonical(buf, x[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return errors.New("unexpected JSON value")
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) error {
	var sb bytes.Buffer
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Write(bytes.TrimSuffix(sb.Bytes(), []byte("\n")))
	return nil
}

func writeNumber(buf *bytes.Buffer, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return errors.New("number is not finite")
	}
	if f == 0 {
		f = 0 // no "-0"
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}
