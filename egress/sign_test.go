package egress

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// verify is a receiver's check written from the Standard Webhooks
// specification, independent of sign.go: strip "whsec_", base64-decode the
// key, HMAC-SHA256 "id.timestamp.body", compare (constant time) with each
// "v1,<base64>" of the space-separated header, and refuse a timestamp more
// than five minutes away.
func verify(secret string, h http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	want := m.Sum(nil)
	for _, s := range strings.Split(h.Get("webhook-signature"), " ") {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func TestSignatureKnownAnswer(t *testing.T) {
	t.Parallel()
	// The test vector of the Standard Webhooks reference libraries.
	s, err := ParseSecrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		s.Signature("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`)))
}

func TestSignedRequestVerifies(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	s, err := ParseSecrets(secret)
	require.NoError(t, err)
	require.True(t, s.Enabled())
	body := []byte(`{"contact_id":"ada","email":"ada@example.com"}`)
	now := time.Now()
	h := http.Header{}
	s.Sign(h, "msg_1", now, body)
	require.Equal(t, "msg_1", h.Get("webhook-id"))
	require.Equal(t, strconv.FormatInt(now.Unix(), 10), h.Get("webhook-timestamp"))
	require.True(t, verify(secret, h, body, now))

	// The reference library agrees.
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(body, h))

	// Anything changed fails.
	require.False(t, verify(secret, h, append(bytes.Clone(body), ' '), now))
	require.Error(t, wh.Verify(append(bytes.Clone(body), ' '), h))
	require.False(t, verify(NewSecret(), h, body, now))
	h2 := h.Clone()
	h2.Set("webhook-id", "msg_2")
	require.False(t, verify(secret, h2, body, now))
	require.Error(t, wh.Verify(body, h2))
}

func TestRotationSignsWithEverySecret(t *testing.T) {
	t.Parallel()
	old, cur := NewSecret(), NewSecret()
	s, err := ParseSecrets(cur + " " + old)
	require.NoError(t, err)
	h := http.Header{}
	body := []byte(`{}`)
	now := time.Now()
	s.Sign(h, "msg_9", now, body)
	require.Len(t, strings.Fields(h.Get("webhook-signature")), 2)
	require.True(t, verify(old, h, body, now))
	require.True(t, verify(cur, h, body, now))
}

func TestParseSecretsRefusesBadSecrets(t *testing.T) {
	t.Parallel()
	none, err := ParseSecrets("  ")
	require.NoError(t, err)
	require.False(t, none.Enabled())
	h := http.Header{}
	none.Sign(h, "msg_1", time.Now(), nil)
	require.Empty(t, h.Get("webhook-signature"))
	require.Equal(t, "msg_1", h.Get("webhook-id"))

	for bad, msg := range map[string]string{
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw":                            `must start with "whsec_"`,
		"whsec_not base64!":                                           "not standard base64",
		"whsec_" + base64.StdEncoding.EncodeToString([]byte("short")): "the key is 5 bytes",
	} {
		_, err := ParseSecrets(bad)
		require.ErrorContains(t, err, msg, bad)
	}
}
