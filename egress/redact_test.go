package egress

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"https://hooks.example.com/lead":                                        "https://hooks.example.com/lead",
		"https://user:hunter2@crm.example.com/tasks":                            "https://REDACTED@crm.example.com/tasks",
		"https://crm.example.com/tasks?token=abc&plan=pro":                      "https://crm.example.com/tasks?token=REDACTED&plan=pro",
		"https://x.example/h?api_key=1&Signature=2&sig=3&a=b":                   "https://x.example/h?api_key=REDACTED&Signature=REDACTED&sig=REDACTED&a=b",
		"https://x.example/h?access_token=abc#frag":                             "https://x.example/h?access_token=REDACTED#frag",
		"https://x.example/cb#access_token=abc":                                 "https://x.example/cb#REDACTED",
		"https://hooks.slack.com/services/T000/B000/XXXXXXXX":                   "https://hooks.slack.com/services/REDACTED",
		"https://discord.com/api/webhooks/123/tok-en":                           "https://discord.com/api/webhooks/REDACTED",
		"https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y": "https://acme.webhook.office.com/webhookb2/REDACTED",
		"https://hooks.zapier.com/hooks/catch/123/abcdef/":                      "https://hooks.zapier.com/hooks/catch/REDACTED",
		"https://api.telegram.org/bot123:AAE/sendMessage":                       "https://api.telegram.org/botREDACTED/sendMessage",
		"no url here, token=abc":                                                "no url here, token=abc",
	}
	for in, want := range cases {
		require.Equal(t, want, Redact(in), in)
	}
}

func TestRedactFindsURLsInText(t *testing.T) {
	t.Parallel()
	// Go's *url.Error prints the URL it failed on.
	raw := "https://bob:s3cret@hooks.slack.com/services/T1/B2/abcdef?token=zzz"
	req, err := http.NewRequest("POST", raw, nil)
	require.NoError(t, err)
	uerr := &url.Error{Op: "Post", URL: req.URL.String(), Err: errors.New("dial tcp 10.0.0.1:443: connection refused")}
	require.Contains(t, uerr.Error(), "s3cret")
	got := Redact("POST " + raw + ": " + uerr.Error() + ".")
	for _, secret := range []string{"s3cret", "abcdef", "zzz", "bob"} {
		require.NotContains(t, got, secret)
	}
	require.Contains(t, got, `Post "https://REDACTED@hooks.slack.com/services/REDACTED?token=REDACTED": dial tcp 10.0.0.1:443: connection refused.`)

	// A URL that does not parse is cut after its scheme.
	require.Equal(t, `parse "http://REDACTED": bad`, Redact(`parse "http://[::1%zz:secret@x": bad`))
	require.False(t, strings.Contains(Redact("see ftp://u:p@h/x, then"), "u:p"))
}
