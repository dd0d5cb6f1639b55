package strictjson

import "encoding/json"

// Kind is the JSON type of a value.
type Kind int

// The kinds of JSON values.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// String names the kind the way messages do: "a string", "an object".
func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "a boolean"
	case Number:
		return "a number"
	case String:
		return "a string"
	case Array:
		return "an array"
	case Object:
		return "an object"
	}
	return "a value"
}

// Node is one parsed JSON value.
type Node struct {
	Kind Kind
	// Text is a string's value or a number's literal, exactly as written
	// (numbers are not rounded: the caller decides what range it takes).
	Text    string
	Bool    bool
	Items   []*Node  // an array's items
	Members []Member // an object's members, in the order written
}

// Member is one name/value pair of an object.
type Member struct {
	Name  string
	Value *Node
	// Repeat is set when an earlier member of the same object has the
	// same name: a duplicate key, which callers report (see Duplicates).
	Repeat bool
}

// Get returns the value of the first member named name, or nil.
func (n *Node) Get(name string) *Node {
	for _, m := range n.Members {
		if m.Name == name {
			return m.Value
		}
	}
	return nil
}

// Fields returns an object's members by name (the first of repeated
// names).
func (n *Node) Fields() map[string]*Node {
	out := make(map[string]*Node, len(n.Members))
	for _, m := range n.Members {
		if !m.Repeat {
			out[m.Name] = m.Value
		}
	}
	return out
}

// Value converts the tree into Go values: nil, bool, json.Number (the
// literal, kept exact), string, []any and map[string]any (the first of
// repeated names).
func (n *Node) Value() any {
	switch n.Kind {
	case Bool:
		return n.Bool
	case Number:
		return json.Number(n.Text)
	case String:
		return n.Text
	case Array:
		out := make([]any, len(n.Items))
		for i, it := range n.Items {
			out[i] = it.Value()
		}
		return out
	case Object:
		out := make(map[string]any, len(n.Members))
		for _, m := range n.Members {
			if !m.Repeat {
				out[m.Name] = m.Value.Value()
			}
		}
		return out
	}
	return nil
}
