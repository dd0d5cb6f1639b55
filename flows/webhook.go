package flows

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// The rules of a webhook step: where it may send (a literal http(s) scheme,
// host and port, templates only in the path and query), which extra headers
// it may set, and the body it needs without the envelope.

var templateRef = regexp.MustCompile(`\{\{[^}]*\}\}`)

// MaxWebhookHeaders bounds the extra headers of one webhook step.
const MaxWebhookHeaders = 20

// maxHeaderValue bounds one header value template (bytes).
const maxHeaderValue = 4096

func (v *validation) webhook(s *Step, p jpath) {
	if s.URL != "" {
		v.webhookURL(s.URL, p.f("url"))
	}
	v.webhookHeaders(s.Headers, p.f("headers"))
	if s.Envelope != nil && !*s.Envelope && s.Body == nil {
		v.errf(p.f("body"), `is required with "envelope": false (it is then the whole request body), e.g. "body": {"text": "New lead: {{email}}"}`)
	}
}

func (v *validation) webhookURL(raw string, p jpath) {
	if loc := templateRef.FindStringIndex(raw); loc != nil && loc[0] < authorityEnd(raw) {
		v.errf(p, "%q has a template in its scheme, host or port; a contact's values may only go in the path or query, where they are percent-escaped (e.g. \"https://hooks.example.com/lead?email={{email}}\")", raw)
		return
	}
	u, err := url.Parse(templateRef.ReplaceAllString(raw, "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errf(p, "%q is not an http(s) URL; write it like \"https://hooks.example.com/lead\"", raw)
	}
}

// authorityEnd is the offset where raw's path, query or fragment starts
// (after "scheme://user@host:port"), or len(raw).
func authorityEnd(raw string) int {
	i := strings.Index(raw, "://")
	if i < 0 {
		return len(raw)
	}
	i += len("://")
	if j := strings.IndexAny(raw[i:], "/?#"); j >= 0 {
		return i + j
	}
	return len(raw)
}

// reservedHeaders are set by leadflow (or by HTTP itself) on every
// delivery; a webhook step may not set them.
var reservedHeaders = []string{
	"content-type", "content-length", "content-encoding", "host", "idempotency-key",
	"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect",
}

// ReservedHeader reports whether a webhook step may not set header name
// (case-insensitive): Content-Type, Host, Idempotency-Key, the Standard
// Webhooks headers (webhook-*), proxy and hop-by-hop headers.
func ReservedHeader(name string) bool {
	n := strings.ToLower(name)
	if strings.HasPrefix(n, "webhook-") || strings.HasPrefix(n, "proxy-") {
		return true
	}
	for _, r := range reservedHeaders {
		if n == r {
			return true
		}
	}
	return false
}

func (v *validation) webhookHeaders(h map[string]string, p jpath) {
	if len(h) > MaxWebhookHeaders {
		v.errf(p, "has %d headers; a webhook step sets at most %d", len(h), MaxWebhookHeaders)
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := map[string]string{}
	for _, name := range names {
		hp := p.f(name)
		switch {
		case !headerToken(name):
			v.errf(hp, "%q is not an HTTP header name; use letters, digits and - (e.g. \"X-Api-Key\"), no templates", name)
			continue
		case ReservedHeader(name):
			v.errf(hp, "%s cannot be set by a webhook step: leadflow sets Content-Type, Idempotency-Key and the webhook-* signature headers itself, and Host, proxy and hop-by-hop headers belong to HTTP; remove it", name)
			continue
		}
		if other, dup := seen[strings.ToLower(name)]; dup {
			v.errf(hp, "repeats header %s (header names ignore case); keep one", other)
		}
		seen[strings.ToLower(name)] = name
		val := h[name]
		if len(val) > maxHeaderValue {
			v.errf(hp, "is %d bytes long; a header value template may be at most %d", len(val), maxHeaderValue)
		}
		if strings.ContainsFunc(val, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			v.errf(hp, "contains a control character (line break, NUL…); header values are one line of text")
		}
	}
}

// headerToken reports whether s is an RFC 9110 token (a header name).
func headerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
