package strictjson

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// SyntaxError is a text that is not one well-formed JSON value.
type SyntaxError struct {
	// Offset is the byte where the reader should look; -1 for the whole
	// text (Empty). Line and Column (1-based, columns count characters)
	// are the same place; 0 when Offset is -1.
	Offset       int
	Line, Column int
	Message      string
	// Empty is set for a text with nothing but white space, Trailing for
	// data after the value: callers word those for their readers.
	Empty, Trailing bool
}

// Error is "syntax error at line:column: message".
func (e *SyntaxError) Error() string {
	if e.Offset < 0 {
		return "syntax error: " + e.Message
	}
	return fmt.Sprintf("syntax error at %d:%d: %s", e.Line, e.Column, e.Message)
}

func newSyntaxError(data []byte, off int, msg string) *SyntaxError {
	line, col := LineColumn(data, off)
	return &SyntaxError{Offset: off, Line: line, Column: col, Message: msg}
}

// LineColumn converts a byte offset into a 1-based line and column
// (columns count characters, not bytes).
func LineColumn(data []byte, off int) (int, int) {
	off = max(0, min(off, len(data)))
	line, col := 1, 1
	for i := 0; i < off; {
		if data[i] == '\n' {
			line, col = line+1, 1
			i++
			continue
		}
		_, size := utf8.DecodeRune(data[i:])
		i += size
		col++
	}
	return line, col
}

// expectation is what the grammar allows after the last token read.
type expectation int

const (
	expectValue     expectation = iota // the top-level value, or a member's value after ':'
	expectFirstItem                    // after '[': a value or ']'
	expectItemEnd                      // after an item: ',' or ']'
	expectFirstName                    // after '{': a name or '}'
	expectColon                        // after a member name: ':'
	expectMemberEnd                    // after a member's value: ',' or '}'
	expectItem                         // after ',' in an array
	expectName                         // after ',' in an object
)

// friendly finds the place and the words for a syntax error. last is the
// offset after the last good token, at jsontext's offset of the error, ex
// what was expected after last and name the object member concerned.
// It re-reads only the bytes from last on: jsontext did the parsing.
func friendly(d []byte, last, at int, ex expectation, name string) (int, string) {
	i := skipSpace(d, last)
	// A word glued to the last token ("truex", "12abc", "01") is one bad
	// value, reported where it starts.
	if (ex == expectItemEnd || ex == expectMemberEnd) && i == last && i < len(d) && isWordByte(d[i]) && isWordByte(d[last-1]) {
		s := last - 1
		for s > 0 && isWordByte(d[s-1]) {
			s--
		}
		return s, badWord(d, s)
	}
	switch ex {
	case expectColon:
		if i < len(d) && d[i] == ':' {
			i, ex = skipSpace(d, i+1), expectValue
		} else if i < len(d) {
			return i, fmt.Sprintf("expected ':' after field name %q, found %s", name, describe(d, i))
		}
	case expectItemEnd, expectMemberEnd:
		closer, what := ']', "an array item"
		if ex == expectMemberEnd {
			closer, what = '}', fmt.Sprintf("the value of %q", name)
		}
		if i < len(d) && d[i] != ',' {
			switch d[i] {
			case '/':
				return i, commentMessage
			case '}', ']':
				return i, fmt.Sprintf("expected ',' or '%c' after %s, found %s", closer, what, describe(d, i))
			}
			return i, fmt.Sprintf("expected ',' or '%c' after %s, found %s; a comma may be missing", closer, what, describe(d, i))
		}
		if i < len(d) {
			i = skipSpace(d, i+1)
			if ex == expectMemberEnd {
				ex = expectName
			} else {
				ex = expectItem
			}
			if i < len(d) && d[i] == byte(closer) {
				return i, fmt.Sprintf("trailing comma before '%c'; remove it", closer)
			}
		}
	}
	if i >= len(d) {
		where := "where a value was expected"
		switch ex {
		case expectFirstName, expectName, expectMemberEnd:
			where = "inside an object"
		case expectItemEnd:
			where = "inside an array"
		case expectColon:
			where = "after a field name"
		}
		return len(d), "unexpected end of JSON input " + where + "; a closing '}', ']' or '\"' may be missing"
	}
	c := d[i]
	switch ex {
	case expectFirstName, expectName:
		switch {
		case c == '"':
			return stringProblem(d, at)
		case c == '}' || c == ',':
			return i, fmt.Sprintf("unexpected %s where a field name was expected; remove it", describe(d, i))
		case c == '\'':
			return i, `field names need double quotes ("), not single quotes`
		case c == '/':
			return i, commentMessage
		case isWordByte(c):
			return i, `field names need double quotes: write "name": value`
		}
		return i, fmt.Sprintf("expected a field name in double quotes, found %s", describe(d, i))
	}
	// A value is expected (ex is expectValue, expectFirstItem or expectItem).
	switch {
	case c == '"':
		if at >= len(d) {
			return len(d), "unexpected end of JSON input inside a string; a closing '\"' may be missing"
		}
		return stringProblem(d, at)
	case c == '-' || c >= '0' && c <= '9':
		return numberProblem(d, i)
	case isWordByte(c):
		return i, badWord(d, i)
	case c == '\'':
		return i, `strings need double quotes ("), not single quotes`
	case c == '/':
		return i, commentMessage
	case c == '}' && ex != expectValue:
		return i, "unexpected '}' where a value was expected; close the array with ']'"
	case c == '}' || c == ']':
		if ex == expectItem {
			return i, fmt.Sprintf("unexpected %s where a value was expected; remove the extra comma before it or add the missing value", describe(d, i))
		}
		if name != "" && ex == expectValue {
			return i, fmt.Sprintf("unexpected %s where a value was expected; give the value of %q", describe(d, i), name)
		}
	}
	return i, fmt.Sprintf("unexpected character %s where a value was expected", describe(d, i))
}

const commentMessage = `comments are not allowed in JSON; remove them (use a "description" field for notes)`

// stringProblem explains an error jsontext found inside a string, at at.
func stringProblem(d []byte, at int) (int, string) {
	if at >= len(d) {
		return len(d), "unexpected end of JSON input inside a string; a closing '\"' may be missing"
	}
	switch c := d[at]; {
	case c == '\n':
		return at, `line break inside a string; close the string with '"' or write \n`
	case c < 0x20:
		return at, `control character inside a string; escape it (\t, \n or \u00XX)`
	case c == '\\' && at+1 < len(d) && d[at+1] == 'u':
		return at + 2, `invalid \u escape; write four hex digits (\u00e9)`
	case c == '\\' && at+1 < len(d):
		return at + 1, fmt.Sprintf(`invalid escape \%c in a string; valid escapes are \" \\ \/ \b \f \n \r \t \uXXXX`, d[at+1])
	}
	return at, fmt.Sprintf("unexpected character %s in a string", describe(d, at))
}

// numberProblem explains a malformed number starting at i.
func numberProblem(d []byte, i int) (int, string) {
	start := i
	if d[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i - s
	}
	if digits() == 0 {
		return start, "invalid number; a '-' must be followed by digits"
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			return i, "invalid number; a '.' must be followed by digits"
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, "invalid number; an exponent needs digits"
		}
	}
	return start, badWord(d, start)
}

// badWord is the message for an unquoted word (or a number run into
// letters) starting at s.
func badWord(d []byte, s int) string {
	e := s
	for e < len(d) && isWordByte(d[e]) {
		e++
	}
	w := string(d[s:e])
	if len(w) > 1 && w[0] == '0' && w[1] >= '0' && w[1] <= '9' || len(w) > 2 && w[0] == '-' && w[1] == '0' && w[2] >= '0' && w[2] <= '9' {
		return "numbers must not have leading zeros"
	}
	if len(w) > 40 {
		w = w[:40] + "…"
	}
	if w != "" && (w[0] == '-' || w[0] >= '0' && w[0] <= '9') {
		return fmt.Sprintf("invalid value %s; put strings in double quotes (\"%s\")", w, w)
	}
	return fmt.Sprintf("invalid value %s; put strings in double quotes (\"%s\"); the only bare words are true, false and null", w, w)
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c == '+' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// describe quotes the character at i for messages.
func describe(d []byte, i int) string {
	r, _ := utf8.DecodeRune(d[i:])
	return strconv.QuoteRune(r)
}
