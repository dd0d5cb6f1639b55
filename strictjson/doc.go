// Package strictjson is the one strict JSON layer of leadflow: the flow
// language (flows) and the HTTP API (api) read JSON through it.
//
// It parses a text into an ordered tree (Parse), using
// github.com/go-json-experiment/json/jsontext for the tokenizing (RFC 8259
// grammar, escapes, exact offsets), and keeps only what the project adds as
// its own code: the friendly syntax messages with line:column ("field names
// need double quotes", "trailing comma before '}'; remove it"), invalid
// UTF-8 refused at its byte, a nesting limit, object members in order with
// repeated names marked (so that every duplicate key is reported with its
// path, not only the first), the path style of the messages
// ("steps[2].on_timeout") and "did you mean" suggestions.
//
// It must not know the documents it reads: which fields an object may have
// and what they mean belong to the callers.
package strictjson
