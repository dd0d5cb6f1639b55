package egress

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts a serialized symmetric signing secret.
const SecretPrefix = "whsec_"

// Secret sizes the Standard Webhooks specification requires of a
// symmetric key: at least 24 bytes (192 bits), at most 64 (512 bits).
const (
	minSecretBytes = 24
	maxSecretBytes = 64
)

// Signer signs deliveries per the Standard Webhooks specification with one
// or more secrets (several while a secret is rotated: the webhook-signature
// header then lists one signature per secret, space-separated, and a
// receiver accepts the delivery when any one verifies).
type Signer struct {
	keys [][]byte
}

// ParseSecrets reads LEADFLOW_WEBHOOK_SECRET: one "whsec_<base64 key>", or
// several separated by spaces. An empty string is a Signer that signs
// nothing (Enabled reports false).
func ParseSecrets(s string) (Signer, error) {
	var sg Signer
	for _, f := range strings.Fields(s) {
		enc, ok := strings.CutPrefix(f, SecretPrefix)
		if !ok {
			return Signer{}, fmt.Errorf("webhook secret must start with %q followed by a base64 key (e.g. %s…); generate one with `openssl rand -base64 32`", SecretPrefix, SecretPrefix)
		}
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return Signer{}, fmt.Errorf("webhook secret: the part after %q is not standard base64: %w", SecretPrefix, err)
		}
		if len(key) < minSecretBytes || len(key) > maxSecretBytes {
			return Signer{}, fmt.Errorf("webhook secret: the key is %d bytes; Standard Webhooks keys are %d to %d bytes", len(key), minSecretBytes, maxSecretBytes)
		}
		sg.keys = append(sg.keys, key)
	}
	return sg, nil
}

// NewSecret returns a new random secret, serialized ("whsec_…", 32 bytes).
func NewSecret() string {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("egress: no randomness for a webhook secret: %v", err))
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Enabled reports whether the signer has a secret.
func (s Signer) Enabled() bool { return len(s.keys) > 0 }

// Signature returns the webhook-signature header value for a message:
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret,
// space-separated. id must not contain '.'.
func (s Signer) Signature(id string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	sigs := make([]string, 0, len(s.keys))
	for _, k := range s.keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}

// Sign sets webhook-id, webhook-timestamp and (when the signer has a
// secret) webhook-signature on h for body sent at at.
func (s Signer) Sign(h http.Header, id string, at time.Time, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	if s.Enabled() {
		h.Set(HeaderSignature, s.Signature(id, at, body))
	}
}

// MessageID is the Standard Webhooks message id (webhook-id) of the
// delivery with idempotency key idemKey: stable across its retries (hand
// retries included), different for every delivery, free of '.' (which the
// signed content uses as separator) whatever characters the key holds.
func MessageID(idemKey string) string {
	sum := sha256.Sum256([]byte(idemKey))
	return "msg_" + hex.EncodeToString(sum[:16])
}
