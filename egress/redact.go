package egress

import (
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces a secret in a redacted URL.
const Redacted = "REDACTED"

var urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>\x60]+`)

// Redact returns s with the secrets of every URL in it replaced by
// REDACTED: user info (user:password@), the values of query parameters
// whose names look secret (token, key, secret, sig, password, auth…), a
// fragment carrying parameters, and the path of webhook services whose path
// is the secret (hooks.slack.com/services/…, discord.com/api/webhooks/…,
// *.webhook.office.com, hooks.zapier.com, api.telegram.org/bot…). s may be
// a bare URL or any text — an error message, a log line — that contains
// URLs: Go's *url.Error, for one, prints the whole URL it failed on.
//
// Use it wherever a delivery URL or an error about one is logged, stored
// or returned to Temporal.
func Redact(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, redactURL)
}

func redactURL(raw string) string {
	trimmed := strings.TrimRight(raw, ".,;:)]}")
	tail := raw[len(trimmed):]
	u, err := url.Parse(trimmed)
	if err != nil || u.Host == "" && u.Opaque != "" {
		scheme, _, _ := strings.Cut(trimmed, "://")
		return scheme + "://" + Redacted + tail
	}
	if u.User != nil {
		u.User = url.User(Redacted)
	}
	if u.RawQuery != "" {
		u.RawQuery = redactParams(u.RawQuery)
	}
	if u.Fragment != "" && strings.Contains(u.Fragment, "=") {
		u.Fragment, u.RawFragment = Redacted, ""
	}
	if keep, ok := secretPathHost(u.Hostname()); ok {
		u.Path, u.RawPath = redactPath(u.Path, keep), ""
	} else if strings.EqualFold(u.Hostname(), "api.telegram.org") {
		segs := strings.Split(u.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, "bot") && len(s) > 3 {
				segs[i] = "bot" + Redacted
			}
		}
		u.Path, u.RawPath = strings.Join(segs, "/"), ""
	}
	return u.String() + tail
}

// redactParams keeps parameter names and order, replacing secret values.
func redactParams(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && secretParam(name) {
			parts[i] = k + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// secretWords make a query parameter secret when its name contains one.
var secretWords = []string{"token", "key", "secret", "sig", "pass", "pwd", "auth", "cred", "session", "jwt", "hmac", "private", "bearer"}

func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// secretPathHost reports whether host's URL paths carry a secret, and how
// many leading path segments are safe to keep.
func secretPathHost(host string) (keep int, ok bool) {
	h := strings.ToLower(host)
	switch {
	case h == "hooks.slack.com", h == "hooks.slack-gov.com":
		return 1, true // /services/T…/B…/secret, /workflows/…, /triggers/…
	case h == "discord.com", h == "discordapp.com", h == "canary.discord.com", h == "ptb.discord.com":
		return 2, true // /api/webhooks/{id}/{token}
	case strings.HasSuffix(h, ".webhook.office.com"), h == "outlook.office.com":
		return 1, true // /webhookb2/…
	case h == "hooks.zapier.com":
		return 2, true // /hooks/catch/{account}/{hook}/
	case h == "maker.ifttt.com":
		return 2, true // /trigger/{event}/with/key/{key}
	case strings.HasSuffix(h, ".logic.azure.com"):
		return 1, true // /workflows/{id}/triggers/… (?sig= is handled as a parameter)
	}
	return 0, false
}

func redactPath(path string, keep int) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) <= keep || (len(segs) == keep+1 && segs[keep] == "") {
		return path
	}
	return "/" + strings.Join(segs[:keep], "/") + "/" + Redacted
}
