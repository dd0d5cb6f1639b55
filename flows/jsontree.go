package flows

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoder parses a file into an ordered tree first (its own small,
// strict RFC 8259 parser: exact line:column in syntax errors, duplicate keys
// detected, member order kept), then walks the tree against the Go types.

type nodeKind int

const (
	nNull nodeKind = iota
	nBool
	nNumber
	nString
	nArray
	nObject
)

func (k nodeKind) String() string {
	switch k {
	case nNull:
		return "null"
	case nBool:
		return "a boolean"
	case nNumber:
		return "a number"
	case nString:
		return "a string"
	case nArray:
		return "an array"
	case nObject:
		return "an object"
	}
	return "a value"
}

type member struct {
	key string
	val *node
}

type node struct {
	kind    nodeKind
	str     string // string value, or the number's literal
	b       bool
	arr     []*node
	members []member
}

func (n *node) get(key string) *node {
	for _, m := range n.members {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// syntaxError is a parse failure at a byte offset (-1: the whole file).
type syntaxError struct {
	off int
	msg string
}

const maxDepth = 500

type parser struct {
	data  []byte
	pos   int
	depth int
}

// parseJSON parses one JSON value followed only by whitespace.
func parseJSON(data []byte) (*node, *syntaxError) {
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, &syntaxError{off, "the file is not valid UTF-8; save it as UTF-8"}
	}
	p := &parser{data: data}
	// A UTF-8 byte order mark is tolerated.
	if strings.HasPrefix(string(data), "\uFEFF") {
		p.pos = 3
	}
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, &syntaxError{-1, "the file is empty; write a JSON document ({\"kind\": ...}) or an array of them"}
	}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		return nil, &syntaxError{p.pos, "unexpected data after the end of the JSON value; a file holds one document or one array of documents: wrap several in [ ... ] separated by commas"}
	}
	return n, nil
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) errf(format string, args ...any) *syntaxError {
	return &syntaxError{p.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) eof(what string) *syntaxError {
	return &syntaxError{p.pos, "unexpected end of file " + what + "; a closing '}', ']' or '\"' may be missing"}
}

// describe names the character at the current position for messages.
func (p *parser) describe() string {
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *parser) value() (*node, *syntaxError) {
	if p.pos >= len(p.data) {
		return nil, p.eof("where a value was expected")
	}
	c := p.data[p.pos]
	switch {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: nString, str: s}, nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			end := p.pos + len(lit)
			if strings.HasPrefix(string(p.data[p.pos:]), lit) && (end >= len(p.data) || !isIdentByte(p.data[end])) {
				p.pos = end
				switch lit {
				case "true":
					return &node{kind: nBool, b: true}, nil
				case "false":
					return &node{kind: nBool}, nil
				}
				return &node{kind: nNull}, nil
			}
		}
		return nil, p.bareWord()
	case c == '\'':
		return nil, p.errf("strings need double quotes (\"), not single quotes")
	case c == '/':
		return nil, p.errf("comments are not allowed in JSON; remove them (use a \"description\" field for notes)")
	case c == '}' || c == ']':
		return nil, p.errf("unexpected %s where a value was expected; remove the extra comma before it or add the missing value", p.describe())
	case isIdentByte(c):
		return nil, p.bareWord()
	}
	return nil, p.errf("unexpected character %s where a value was expected", p.describe())
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *parser) bareWord() *syntaxError {
	start := p.pos
	end := p.pos
	for end < len(p.data) && isIdentByte(p.data[end]) {
		end++
	}
	w := string(p.data[start:end])
	if len(w) > 40 {
		w = w[:40] + "…"
	}
	return &syntaxError{start, fmt.Sprintf("invalid value %s; put strings in double quotes (\"%s\"); the only bare words are true, false and null", w, w)}
}

func (p *parser) object() (*node, *syntaxError) {
	p.depth++
	if p.depth > maxDepth {
		return nil, p.errf("nested too deeply (more than %d levels)", maxDepth)
	}
	defer func() { p.depth-- }()
	p.pos++ // '{'
	n := &node{kind: nObject}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.eof("inside an object")
		}
		switch c := p.data[p.pos]; {
		case c == '}':
			return nil, p.errf("trailing comma before '}'; remove it")
		case c == '\'':
			return nil, p.errf("field names need double quotes (\"), not single quotes")
		case c == '/':
			return nil, p.errf("comments are not allowed in JSON; remove them (use a \"description\" field for notes)")
		case c != '"':
			if isIdentByte(c) {
				return nil, p.errf("field names need double quotes: write \"name\": value")
			}
			return nil, p.errf("expected a field name in double quotes, found %s", p.describe())
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.eof("after a field name")
		}
		if p.data[p.pos] != ':' {
			return nil, p.errf("expected ':' after field name %q, found %s", key, p.describe())
		}
		p.pos++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key, v})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.eof("inside an object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.errf("expected ',' or '}' after the value of %q, found %s; a comma may be missing", key, p.describe())
		}
	}
}

func (p *parser) array() (*node, *syntaxError) {
	p.depth++
	if p.depth > maxDepth {
		return nil, p.errf("nested too deeply (more than %d levels)", maxDepth)
	}
	defer func() { p.depth-- }()
	p.pos++ // '['
	n := &node{kind: nArray}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		n.arr = []*node{}
		return n, nil
	}
	for {
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			return nil, p.errf("trailing comma before ']'; remove it")
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.arr = append(n.arr, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.eof("inside an array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.errf("expected ',' or ']' after an array item, found %s; a comma may be missing", p.describe())
		}
	}
}

func (p *parser) number() (*node, *syntaxError) {
	start := p.pos
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i - s
	}
	if i < len(d) && d[i] == '0' {
		i++
		if i < len(d) && d[i] >= '0' && d[i] <= '9' {
			return nil, &syntaxError{start, "numbers must not have leading zeros"}
		}
	} else if digits() == 0 {
		return nil, &syntaxError{start, "invalid number; a '-' must be followed by digits"}
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			return nil, &syntaxError{i, "invalid number; a '.' must be followed by digits"}
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, &syntaxError{i, "invalid number; an exponent needs digits"}
		}
	}
	if i < len(d) && isIdentByte(d[i]) {
		p.pos = start
		for i < len(d) && isIdentByte(d[i]) {
			i++
		}
		w := string(d[start:i])
		return nil, &syntaxError{start, fmt.Sprintf("invalid value %s; put strings in double quotes (\"%s\")", w, w)}
	}
	p.pos = i
	return &node{kind: nNumber, str: string(d[start:i])}, nil
}

func (p *parser) str() (string, *syntaxError) {
	p.pos++ // opening quote
	var b strings.Builder
	d := p.data
	for {
		start := p.pos
		for p.pos < len(d) && d[p.pos] != '"' && d[p.pos] != '\\' && d[p.pos] >= 0x20 {
			p.pos++
		}
		b.Write(d[start:p.pos])
		if p.pos >= len(d) {
			return "", p.eof("inside a string")
		}
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			if c == '\n' {
				return "", p.errf("line break inside a string; close the string with '\"' or write \\n")
			}
			return "", p.errf("control character inside a string; escape it (\\t, \\n or \\u00XX)")
		}
		// backslash
		p.pos++
		if p.pos >= len(d) {
			return "", p.eof("inside a string")
		}
		e := d[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errf("invalid \\u escape; write four hex digits (\\u00e9)")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					if lo, ok := p.hex4(); ok {
						if dec := utf16.DecodeRune(r, lo); dec != utf8.RuneError {
							r2 = dec
						} else {
							p.pos = save
						}
					} else {
						p.pos = save
					}
				}
				r = r2
			}
			b.WriteRune(r)
		default:
			p.pos--
			return "", p.errf("invalid escape \\%c in a string; valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX", e)
		}
	}
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += 4
	return rune(v), true
}

// lineCol converts a byte offset into a 1-based line and column (columns
// count characters).
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line, col := 1, 1
	for i := 0; i < off; {
		if data[i] == '\n' {
			line++
			col = 1
			i++
			continue
		}
		_, size := utf8.DecodeRune(data[i:])
		i += size
		col++
	}
	return line, col
}
