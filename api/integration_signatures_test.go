package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// The test vectors of SendGrid's own libraries (sendgrid-nodejs,
// sendgrid-python, sendgrid-ruby, sendgrid-go: helpers/eventwebhook).
const (
	sgVectorKey       = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=="
	sgVectorSignature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0="
	sgVectorTimestamp = "1588788367"
	sgVectorPayload   = `{"category":"example_payload","event":"test_event","message_id":"message_id"}`
	// The same signature with one character changed, and another account's
	// key, as the libraries test them.
	sgVectorTamperedSignature = "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH3j/0="
	sgVectorOtherKey          = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA=="

	// A request SendGrid really signed (a dropped event), with the body's
	// trailing CR LF that the signature covers.
	sgLiveKey       = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
	sgLiveSignature = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
	sgLiveTimestamp = "1600112502"
	sgLivePayload   = `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
)

func TestVerifySendGridPublishedVectors(t *testing.T) {
	t.Parallel()
	key, err := parseSendGridKey(sgVectorKey)
	require.NoError(t, err)
	other, err := parseSendGridKey(sgVectorOtherKey)
	require.NoError(t, err)

	require.True(t, verifySendGrid(key, sgVectorTimestamp, []byte(sgVectorPayload), sgVectorSignature))
	require.False(t, verifySendGrid(key, sgVectorTimestamp, []byte(sgVectorPayload), sgVectorTamperedSignature), "tampered signature")
	require.False(t, verifySendGrid(other, sgVectorTimestamp, []byte(sgVectorPayload), sgVectorSignature), "another key")
	require.False(t, verifySendGrid(key, sgVectorTimestamp, []byte("payload"), sgVectorSignature), "another payload")
	require.False(t, verifySendGrid(key, "timestamp", []byte(sgVectorPayload), sgVectorSignature), "another timestamp")
	require.False(t, verifySendGrid(key, sgVectorTimestamp, []byte(sgVectorPayload), "not base64!"), "garbage signature")

	live, err := parseSendGridKey(sgLiveKey)
	require.NoError(t, err)
	require.True(t, verifySendGrid(live, sgLiveTimestamp, []byte(sgLivePayload), sgLiveSignature))
	trimmed := sgLivePayload[:len(sgLivePayload)-2]
	require.False(t, verifySendGrid(live, sgLiveTimestamp, []byte(trimmed), sgLiveSignature), "the signature covers the raw body, CR LF included")
}

func TestParseSendGridKey(t *testing.T) {
	t.Parallel()
	pemKey := "-----BEGIN PUBLIC KEY-----\n" + sgVectorKey + "\n-----END PUBLIC KEY-----\n"
	_, err := parseSendGridKey(pemKey)
	require.NoError(t, err, "a PEM block is accepted too")
	_, err = parseSendGridKey("not a key")
	require.ErrorContains(t, err, "not base64")
	_, err = parseSendGridKey("AAAA")
	require.ErrorContains(t, err, "not a public key")
	require.ErrorContains(t, Integrations{SendGridVerificationKey: "AAAA"}.Check(), "LEADFLOW_SENDGRID_VERIFICATION_KEY")
	require.ErrorContains(t, Integrations{PostmarkUser: "u"}.Check(), "must be set together")
	require.NoError(t, Integrations{SendGridVerificationKey: sgVectorKey, MailgunSigningKey: "k", PostmarkUser: "u", PostmarkPassword: "p"}.Check())
}

// Mailgun documents the signature as the hex HMAC-SHA256 of timestamp +
// token with the webhook signing key.
func TestVerifyMailgun(t *testing.T) {
	t.Parallel()
	key := []byte("key-test-signing")
	ts, token := "1529006854", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + token))
	sig := hex.EncodeToString(mac.Sum(nil))
	require.True(t, verifyMailgun(key, ts, token, sig))
	require.False(t, verifyMailgun(key, ts, token+"x", sig), "another token")
	require.False(t, verifyMailgun(key, "1529006855", token, sig), "another timestamp")
	require.False(t, verifyMailgun([]byte("key-other"), ts, token, sig), "another key")
	tampered := []byte(sig)
	tampered[0] ^= 1
	require.False(t, verifyMailgun(key, ts, token, string(tampered)))
	require.False(t, verifyMailgun(key, ts, token, "zz"), "not hex")
	// The signature Mailgun's documentation shows was made with a key
	// nobody else has.
	require.False(t, verifyMailgun(key, ts, token, "d2271d12299f6592d9d44cd9d250f0704e4674c30d79d07c47a66f95ce71cf55"))
}
