package strictjson

import "strconv"

// Paths in messages name a value inside a document the way a reader would
// write it in JavaScript: fields joined by '.', array indices in brackets,
// field names that are not plain identifiers quoted in brackets —
// "steps[2].on_timeout", `properties["utm source"]`.

// Field returns path extended by an object member's name.
func Field(path, name string) string {
	switch {
	case !plainName(name):
		return path + "[" + strconv.Quote(name) + "]"
	case path == "":
		return name
	}
	return path + "." + name
}

// Index returns path extended by an array index.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
