package flows

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

// MatchFilters reports whether every filter holds for the properties (true
// for no filters). A filter's Property is a dotted path into nested maps
// ("utm.source"); a key that itself contains dots is found too when no
// nested path matches. Operators:
//
//	eq, neq        loose JSON equality: numbers compare as float64 whatever
//	               their Go type, "5" and 5 differ
//	in, not_in     the property equals one of Value's items
//	gt, gte, lt, lte  numbers, or RFC 3339 dates / date-times
//	contains       substring of a string, or element of an array
//	starts_with, ends_with  strings
//	exists         the property is present and not null
//
// A missing (or null) property fails every operator except neq and not_in,
// which hold.
func MatchFilters(fs []Filter, props map[string]any) bool {
	for i := range fs {
		got, ok := lookupPath(props, fs[i].Property)
		if !matchOp(fs[i].Op, got, ok, fs[i].Value) {
			return false
		}
	}
	return true
}

// lookupPath finds a dotted path in nested maps.
func lookupPath(m map[string]any, path string) (any, bool) {
	if m == nil || path == "" {
		return nil, false
	}
	if v, ok := lookupNested(m, path); ok {
		return v, true
	}
	v, ok := m[path]
	return v, ok
}

func lookupNested(m map[string]any, path string) (any, bool) {
	var cur any = m
	for part := range strings.SplitSeq(path, ".") {
		switch mm := cur.(type) {
		case map[string]any:
			v, ok := mm[part]
			if !ok {
				return nil, false
			}
			cur = v
		case map[string]string:
			v, ok := mm[part]
			if !ok {
				return nil, false
			}
			cur = v
		default:
			return nil, false
		}
	}
	return cur, true
}

// matchOp applies an operator to a property value (ok: the property exists).
func matchOp(op string, got any, ok bool, want any) bool {
	if ok && got == nil {
		ok = false
	}
	if !ok {
		return op == OpNeq || op == OpNotIn
	}
	switch op {
	case OpExists:
		return true
	case OpEq:
		return looseEqual(got, want)
	case OpNeq:
		return !looseEqual(got, want)
	case OpIn, OpNotIn:
		items, isArr := want.([]any)
		found := false
		if isArr {
			for _, it := range items {
				if looseEqual(got, it) {
					found = true
					break
				}
			}
		}
		if op == OpIn {
			return found
		}
		return isArr && !found
	case OpGt, OpGte, OpLt, OpLte:
		c, comparable := compareOrdered(got, want)
		if !comparable {
			return false
		}
		return cmpHolds(op, c)
	case OpContains:
		if s, isStr := got.(string); isStr {
			w, wok := want.(string)
			return wok && strings.Contains(s, w)
		}
		if items, isArr := asSlice(got); isArr {
			for _, it := range items {
				if looseEqual(it, want) {
					return true
				}
			}
		}
		return false
	case OpStartsWith, OpEndsWith:
		s, sok := got.(string)
		w, wok := want.(string)
		if !sok || !wok {
			return false
		}
		if op == OpStartsWith {
			return strings.HasPrefix(s, w)
		}
		return strings.HasSuffix(s, w)
	}
	return false
}

// cmpHolds applies a comparison operator to the result of a three-way
// comparison.
func cmpHolds(op string, c int) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpNeq:
		return c != 0
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	}
	return false
}

// toNumber normalizes Go numbers and json.Number to float64.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		return parseTimeValue(x)
	}
	return time.Time{}, false
}

// compareOrdered compares two numbers or two dates.
func compareOrdered(a, b any) (int, bool) {
	if x, ok := toNumber(a); ok {
		y, ok := toNumber(b)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		case x == y:
			return 0, true
		}
		return 0, false // NaN
	}
	x, ok := toTime(a)
	if !ok {
		return 0, false
	}
	y, ok := toTime(b)
	if !ok {
		return 0, false
	}
	return x.Compare(y), true
}

func asSlice(v any) ([]any, bool) {
	if s, ok := v.([]any); ok {
		return s, true
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// looseEqual compares JSON values: numbers as float64 whatever their Go
// type, strings, booleans, null, and arrays and objects element by element.
// A string never equals a number ("5" ≠ 5).
func looseEqual(a, b any) bool {
	if x, ok := toNumber(a); ok {
		y, ok := toNumber(b)
		return ok && x == y
	}
	if _, ok := toNumber(b); ok {
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	if b == nil {
		return false
	}
	if xs, ok := asSlice(a); ok {
		ys, ok := asSlice(b)
		if !ok || len(xs) != len(ys) {
			return false
		}
		for i := range xs {
			if !looseEqual(xs[i], ys[i]) {
				return false
			}
		}
		return true
	}
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Kind() == reflect.Map && rb.Kind() == reflect.Map {
		if ra.Len() != rb.Len() || ra.Type().Key().Kind() != reflect.String || rb.Type().Key().Kind() != reflect.String {
			return false
		}
		iter := ra.MapRange()
		for iter.Next() {
			vb := rb.MapIndex(reflect.ValueOf(iter.Key().String()).Convert(rb.Type().Key()))
			if !vb.IsValid() || !looseEqual(iter.Value().Interface(), vb.Interface()) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
