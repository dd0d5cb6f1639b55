package strictjson_test

import (
	"fmt"

	"github.com/leadflow/leadflow/strictjson"
)

// A caller parses, then reports repeated keys and unknown fields at their
// paths in its own words.
func Example() {
	n, err := strictjson.Parse([]byte(`{"typ": "page_visited", "properties": {"plan": "pro", "plan": "free"}}`), strictjson.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range strictjson.Duplicates(n, "") {
		fmt.Printf("%s: %s\n", p.Path, p.Message)
	}
	for _, m := range n.Members {
		if m.Name != "type" && m.Name != "properties" {
			fmt.Printf("%s: %s\n", strictjson.Field("", m.Name), strictjson.UnknownField(m.Name, []string{"type", "properties"}))
		}
	}
	_, err = strictjson.Parse([]byte("{\n  \"type\": 'page_visited'\n}"), strictjson.Options{})
	fmt.Println(err)
	// Output:
	// properties.plan: duplicate field "plan"; keep only one
	// typ: unknown field "typ"; did you mean "type"?
	// syntax error at 2:11: strings need double quotes ("), not single quotes
}
