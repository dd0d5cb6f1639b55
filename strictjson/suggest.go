package strictjson

import (
	"fmt"
	"strings"
)

// Suggest returns the candidate the caller probably meant by s: one equal
// but for case, else the closest within an edit distance of 2 (1 for names
// of one or two characters); "" when none is close.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if strings.EqualFold(c, s) {
			return c
		}
		if dist := editDistance(s, c); dist < bestD {
			best, bestD = c, dist
		}
	}
	if len(s) <= 2 && bestD > 1 {
		return ""
	}
	return best
}

// UnknownField is the message for a member named name that an object does
// not take: "did you mean" the closest allowed name, or the allowed names.
func UnknownField(name string, allowed []string) string {
	if s := Suggest(name, allowed); s != "" {
		return fmt.Sprintf("unknown field %q; did you mean %q?", name, s)
	}
	return fmt.Sprintf("unknown field %q; remove it (allowed fields: %s)", name, strings.Join(allowed, ", "))
}

// editDistance is the Levenshtein distance of two names (runes); names
// longer than 64 runes are only compared for equality.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		if a == b {
			return 0
		}
		return 99
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
