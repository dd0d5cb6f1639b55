package strictjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// DefaultMaxDepth is the nesting limit when Options.MaxDepth is 0;
// maxMaxDepth is the highest (jsontext refuses 10000 levels itself).
const (
	DefaultMaxDepth = 500
	maxMaxDepth     = 5000
)

// Options tune Parse.
type Options struct {
	// MaxDepth is how deep arrays and objects may nest (the outermost is
	// level 1); 0 means DefaultMaxDepth, and more than 5000 means 5000.
	MaxDepth int
	// AllowBOM tolerates a UTF-8 byte order mark before the value (files
	// saved by some editors have one).
	AllowBOM bool
}

var bom = []byte("\uFEFF")

// Parse parses data, which must hold exactly one JSON value (white space
// around it aside), into a tree. Repeated member names are kept and marked
// (Member.Repeat), not refused: callers report each with its path. Every
// other problem is a *SyntaxError: invalid UTF-8, the grammar, data after
// the value, nesting beyond the limit, an empty text.
//
// Lone UTF-16 surrogates in \u escapes become U+FFFD, as encoding/json
// does; invalid UTF-8 bytes are refused.
func Parse(data []byte, opts Options) (*Node, error) {
	maxDepth := opts.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	maxDepth = min(maxDepth, maxMaxDepth)
	if !utf8.Valid(data) {
		off := 0
		for {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, newSyntaxError(data, off, fmt.Sprintf("invalid UTF-8 (byte 0x%02X); save the text as UTF-8", data[off]))
	}
	start := 0
	if opts.AllowBOM && bytes.HasPrefix(data, bom) {
		start = len(bom)
	}
	if len(bytes.TrimLeft(data[start:], " \t\r\n")) == 0 {
		return nil, &SyntaxError{Offset: -1, Empty: true, Message: "empty; write a JSON value"}
	}
	b := builder{data: data, start: start, maxDepth: maxDepth}
	return b.parse()
}

// builder turns jsontext's tokens into a tree and remembers, for the
// messages, what the grammar expects next.
type builder struct {
	data     []byte
	start    int // bytes skipped before the decoder's input (a BOM)
	maxDepth int
	stack    []*frame
}

// frame is an array or object being read.
type frame struct {
	n       *Node
	name    string // the member name read, waiting for its value
	hasName bool
	seen    map[string]bool
}

func (b *builder) parse() (*Node, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(b.data[b.start:]),
		jsontext.AllowDuplicateNames(true), // marked in the tree, see Member.Repeat
		jsontext.AllowInvalidUTF8(true))    // checked before, at the exact byte; lone surrogates → U+FFFD
	var root *Node
	for root == nil {
		last := b.start + int(dec.InputOffset())
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, b.explain(last, err)
		}
		var n *Node
		switch tok.Kind() {
		case '{', '[':
			if len(b.stack) >= b.maxDepth {
				return nil, newSyntaxError(b.data, b.start+int(dec.InputOffset())-1,
					fmt.Sprintf("JSON nested deeper than %d levels; flatten the structure", b.maxDepth))
			}
			f := &frame{n: &Node{Kind: Array}}
			if tok.Kind() == '{' {
				f.n.Kind, f.seen = Object, map[string]bool{}
			}
			b.stack = append(b.stack, f)
			continue
		case '}', ']':
			n = b.stack[len(b.stack)-1].n
			if n.Kind == Array && n.Items == nil {
				n.Items = []*Node{}
			}
			b.stack = b.stack[:len(b.stack)-1]
		case '"':
			if top := b.top(); top != nil && top.n.Kind == Object && !top.hasName {
				top.name, top.hasName = tok.String(), true
				continue
			}
			n = &Node{Kind: String, Text: tok.String()}
		case '0':
			n = &Node{Kind: Number, Text: tok.String()}
		case 't', 'f':
			n = &Node{Kind: Bool, Bool: tok.Bool()}
		default:
			n = &Node{Kind: Null}
		}
		top := b.top()
		switch {
		case top == nil:
			root = n
		case top.n.Kind == Array:
			top.n.Items = append(top.n.Items, n)
		default:
			top.n.Members = append(top.n.Members, Member{Name: top.name, Value: n, Repeat: top.seen[top.name]})
			top.seen[top.name] = true
			top.hasName = false
		}
	}
	end := b.start + int(dec.InputOffset())
	if rest := bytes.TrimLeft(b.data[end:], " \t\r\n"); len(rest) > 0 {
		e := newSyntaxError(b.data, len(b.data)-len(rest), "unexpected data after the JSON value; send one value (several go in an array)")
		e.Trailing = true
		return nil, e
	}
	return root, nil
}

func (b *builder) top() *frame {
	if len(b.stack) == 0 {
		return nil
	}
	return b.stack[len(b.stack)-1]
}

// explain turns jsontext's error for the token after offset last into a
// friendly message at the place a reader should look.
func (b *builder) explain(last int, err error) *SyntaxError {
	var se *jsontext.SyntacticError
	at := len(b.data)
	if errors.As(err, &se) {
		at = b.start + int(se.ByteOffset)
	}
	var ex expectation
	switch top := b.top(); {
	case top == nil:
		ex = expectValue
	case top.n.Kind == Array && len(top.n.Items) == 0:
		ex = expectFirstItem
	case top.n.Kind == Array:
		ex = expectItemEnd
	case top.hasName:
		ex = expectColon
	case len(top.n.Members) == 0:
		ex = expectFirstName
	default:
		ex = expectMemberEnd
	}
	name := ""
	if top := b.top(); top != nil && top.n.Kind == Object {
		if top.hasName {
			name = top.name
		} else if len(top.n.Members) > 0 {
			name = top.n.Members[len(top.n.Members)-1].Name
		}
	}
	off, msg := friendly(b.data, last, at, ex, name)
	if msg == "" { // not reached for the errors jsontext reports today
		msg = err.Error()
		if se != nil {
			msg = se.Err.Error()
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of JSON input"
		}
	}
	return newSyntaxError(b.data, off, msg)
}
