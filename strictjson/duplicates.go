package strictjson

import "fmt"

// Problem is something wrong at a path of a parsed value.
type Problem struct {
	Path    string
	Message string
}

// DuplicateField is the message for a repeated member name.
func DuplicateField(name string) string {
	return fmt.Sprintf("duplicate field %q; keep only one", name)
}

// Duplicates lists every repeated member name in the tree under path, in
// document order.
func Duplicates(n *Node, path string) []Problem {
	var out []Problem
	var walk func(n *Node, path string)
	walk = func(n *Node, path string) {
		for i, it := range n.Items {
			walk(it, Index(path, i))
		}
		for _, m := range n.Members {
			p := Field(path, m.Name)
			if m.Repeat {
				out = append(out, Problem{Path: p, Message: DuplicateField(m.Name)})
				continue
			}
			walk(m.Value, p)
		}
	}
	walk(n, path)
	return out
}
