package api_test

// The email providers' event webhooks with their published sample
// payloads (api/testdata/integrations), signed the documented way with test
// keys: a valid signature stores the mapped events, a tampered one stores
// nothing.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
)

const (
	mailgunKey   = "key-test-mailgun-signing"
	postmarkUser = "postmark-hook"
	postmarkPass = "s3cret-pass"
)

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "integrations", name))
	require.NoError(t, err)
	return b
}

// sendgridSigner is a SendGrid account's key pair: SendGrid signs with the
// private key and shows the public one as the verification key.
type sendgridSigner struct {
	priv *ecdsa.PrivateKey
	pub  string // base64 DER, as SendGrid shows it
}

func newSendGridSigner(t *testing.T) sendgridSigner {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	return sendgridSigner{priv: priv, pub: base64.StdEncoding.EncodeToString(der)}
}

// sign returns the headers' values for body: ECDSA over SHA-256(timestamp +
// body), ASN.1 DER, base64.
func (s sendgridSigner) sign(t *testing.T, ts string, body []byte) string {
	t.Helper()
	h := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, h[:])
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(sig)
}

func (e *env) postSendGrid(body []byte, ts, sig string) resp {
	e.t.Helper()
	req := httptest.NewRequest("POST", "/v1/integrations/sendgrid", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Twilio-Email-Event-Webhook-Signature", sig)
		req.Header.Set("X-Twilio-Email-Event-Webhook-Timestamp", ts)
	}
	return e.send(req)
}

func integrationEnv(t *testing.T, sg sendgridSigner) *env {
	return newEnv(t, func(c *api.Config) {
		c.Integrations = api.Integrations{SendGridVerificationKey: sg.pub, MailgunSigningKey: mailgunKey,
			PostmarkUser: postmarkUser, PostmarkPassword: postmarkPass}
	})
}

type integrationAnswer struct {
	Accepted   int      `json:"accepted"`
	Duplicates int      `json:"duplicates"`
	Conflicts  int      `json:"conflicts"`
	Ignored    int      `json:"ignored"`
	IDs        []string `json:"ids"`
	Skipped    []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"skipped"`
}

func (r resp) integration(t *testing.T) integrationAnswer {
	t.Helper()
	require.Equal(t, 200, r.code, "body: %s", r.body)
	var a integrationAnswer
	require.NoError(t, json.Unmarshal(r.body, &a), "body: %s", r.body)
	return a
}

func TestSendGridEventWebhook(t *testing.T) {
	t.Parallel()
	sg := newSendGridSigner(t)
	e := integrationEnv(t, sg)
	body := sample(t, "sendgrid.json")
	ts := "1631577210"

	// A tampered payload (one byte changed after signing) and a missing
	// signature store nothing.
	sig := sg.sign(t, ts, body)
	tampered := bytes.Replace(body, []byte("example@test.com"), []byte("exbmple@test.com"), 1)
	r := e.postSendGrid(tampered, ts, sig)
	require.Equal(t, 401, r.code, "body: %s", r.body)
	msg, _ := r.errBody(t)
	require.Contains(t, msg, "signature does not match")
	require.Equal(t, 401, e.postSendGrid(body, "1631577211", sig).code, "the timestamp is signed too")
	r = e.postSendGrid(body, "", "")
	require.Equal(t, 401, r.code)
	msg, _ = r.errBody(t)
	require.Contains(t, msg, "X-Twilio-Email-Event-Webhook-Signature")
	require.Zero(t, e.count(`SELECT count(*) FROM events`))
	require.Equal(t, 401, e.do("POST", "/v1/integrations/sendgrid", adminKey, body).code, "leadflow's keys do not sign SendGrid's payloads")

	// The valid signature: 11 events, processed and deferred ignored.
	accepted := e.metric(`leadflow_events_accepted_total{source="sendgrid"}`)
	a := e.postSendGrid(body, ts, sig).integration(t)
	require.Equal(t, 9, a.Accepted)
	require.Equal(t, 2, a.Ignored)
	require.Empty(t, a.Skipped)
	require.Equal(t, "sendgrid:rPoZ4mHajV0Try7IXg--Yw==", a.IDs[0])
	require.Len(t, e.waker.woken(), 1)

	types := map[string]string{
		"rPoZ4mHajV0Try7IXg--Yw==": "email_delivered",
		"_o7lppLso10WRMDfPuqlFQ==": "email_opened",
		"tV-c4nwCoXQaCTmGiPEvIA==": "email_clicked",
		"Q8veIbXiPcpkSH1rCi_8Sw==": "email_bounced",
		"YLLRhu9oXHKXY6fqdL0r2A==": "email_dropped",
		"uIhZz5hC-AH2bHZpzitUxw==": "email_spam_reported",
		"l0vMnu-FvYjc2EcDXg4SOA==": "email_unsubscribed",
		"kC3QpKDvQeH4PjAvnQFA_A==": "email_unsubscribed",
		"s8baRlfcA4FmfU83dW1Zmg==": "email_resubscribed",
	}
	for id, typ := range types {
		ev := e.event("sendgrid:" + id)
		require.Equal(t, typ, ev.Type, id)
		require.Equal(t, "example@test.com", ev.ContactID)
		require.Equal(t, "example@test.com", *ev.Email)
		require.Equal(t, time.Unix(1631577204, 0).UTC(), ev.OccurredAt.UTC())
		require.Equal(t, "cat facts", ev.Properties["campaign"])
		require.Equal(t, []any{"cat facts"}, ev.Properties["tags"])
		require.Equal(t, "sendgrid", ev.Properties["provider"])
		require.Equal(t, "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", ev.Properties["message_id"])
	}
	click := e.event("sendgrid:tV-c4nwCoXQaCTmGiPEvIA==")
	require.Equal(t, "http://www.sendgrid.com/", click.Properties["url"])
	bounce := e.event("sendgrid:Q8veIbXiPcpkSH1rCi_8Sw==")
	require.Equal(t, true, bounce.Properties["permanent"])
	require.Equal(t, "500 unknown recipient", bounce.Properties["reason"])
	require.EqualValues(t, 10, e.event("sendgrid:kC3QpKDvQeH4PjAvnQFA_A==").Properties["group"])

	// SendGrid's retry of the same batch is all duplicates.
	a = e.postSendGrid(body, "1631577999", sg.sign(t, "1631577999", body)).integration(t)
	require.Equal(t, 0, a.Accepted)
	require.Equal(t, 9, a.Duplicates)
	require.Equal(t, 9, e.count(`SELECT count(*) FROM events`))
	require.GreaterOrEqual(t, e.metric(`leadflow_events_accepted_total{source="sendgrid"}`)-accepted, 9.0, "counted (other tests run in parallel)")
}

// One bad record of a batch is skipped and named; the others are stored and
// the answer is 200, so SendGrid does not resend the batch for ever.
func TestSendGridBadRecordsAreSkipped(t *testing.T) {
	t.Parallel()
	sg := newSendGridSigner(t)
	e := integrationEnv(t, sg)
	var events []map[string]any
	require.NoError(t, json.Unmarshal(sample(t, "sendgrid.json"), &events))
	open := events[3]
	badEmail := map[string]any{"email": "not an email", "timestamp": 1631577204, "event": "open", "sg_event_id": "bad-1"}
	tooLong := map[string]any{"email": "b@example.com", "timestamp": 1631577204, "event": "click", "sg_event_id": "bad-2",
		"url": "https://example.com/" + strings.Repeat("x", 40<<10)}
	reserved := map[string]any{"email": "c@example.com", "timestamp": 1631577204, "event": "open", "sg_event_id": "bad\u0000id"}
	future := map[string]any{"email": "d@example.com", "timestamp": e.now.Add(48 * time.Hour).Unix(), "event": "open", "sg_event_id": "bad-4"}
	body, err := json.Marshal([]any{badEmail, open, tooLong, "not an object", reserved, future})
	require.NoError(t, err)
	ts := "1631577210"
	skipped := e.metric(`leadflow_integration_records_skipped_total{provider="sendgrid"}`)
	a := e.postSendGrid(body, ts, sg.sign(t, ts, body)).integration(t)
	require.Equal(t, 1, a.Accepted)
	require.Equal(t, []string{"sendgrid:_o7lppLso10WRMDfPuqlFQ=="}, a.IDs)
	var paths []string
	for _, s := range a.Skipped {
		paths = append(paths, s.Path)
	}
	require.Equal(t, []string{"[0].email", "[2].properties.url", "[3]", "[4].id", "[5].timestamp"}, paths)
	require.Contains(t, a.Skipped[1].Message, "32 KiB")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM events`))
	require.GreaterOrEqual(t, e.metric(`leadflow_integration_records_skipped_total{provider="sendgrid"}`)-skipped, 5.0, "counted")

	// A verified body that is not an array of events is refused whole.
	body = []byte(`{"event": "open"}`)
	r := e.postSendGrid(body, ts, sg.sign(t, ts, body))
	require.Equal(t, 400, r.code)
	body = []byte(`[{"event": "open",`)
	r = e.postSendGrid(body, ts, sg.sign(t, ts, body))
	require.Equal(t, 400, r.code)
	msg, _ := r.errBody(t)
	require.Contains(t, msg, "malformed JSON")
}

func TestIntegrationsNotConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []struct{ path, setting string }{
		{"/v1/integrations/sendgrid", "LEADFLOW_SENDGRID_VERIFICATION_KEY"},
		{"/v1/integrations/mailgun", "LEADFLOW_MAILGUN_SIGNING_KEY"},
		{"/v1/integrations/postmark", "LEADFLOW_POSTMARK_USER"},
	} {
		r := e.do("POST", p.path, "", `[]`)
		require.Equal(t, 404, r.code, p.path)
		msg, _ := r.errBody(t)
		require.Contains(t, msg, p.setting)
	}
	e = newEnv(t, func(c *api.Config) { c.Integrations.SendGridVerificationKey = "AAAA" })
	r := e.do("POST", "/v1/integrations/sendgrid", "", `[]`)
	require.Equal(t, 503, r.code)
}

// mailgunBody wraps an event-data sample in a signed Mailgun webhook body.
func mailgunBody(t *testing.T, key, eventData string, tamper bool) []byte {
	t.Helper()
	ts, token := "1529006854", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(ts + token))
	sig := hex.EncodeToString(mac.Sum(nil))
	if tamper {
		token = strings.Replace(token, "a8", "b8", 1)
	}
	return []byte(`{"signature": {"timestamp": "` + ts + `", "token": "` + token + `", "signature": "` + sig + `"}, "event-data": ` + eventData + `}`)
}

func TestMailgunWebhook(t *testing.T) {
	t.Parallel()
	e := integrationEnv(t, newSendGridSigner(t))
	post := func(body []byte) resp {
		return e.do("POST", "/v1/integrations/mailgun", "", body)
	}
	clicked := string(sample(t, "mailgun_clicked.json"))

	r := post(mailgunBody(t, mailgunKey, clicked, true))
	require.Equal(t, 401, r.code, "a tampered token: %s", r.body)
	require.Equal(t, 401, post(mailgunBody(t, "key-another", clicked, false)).code, "another key")
	require.Equal(t, 401, post([]byte(`{"event-data": `+clicked+`}`)).code, "no signature")
	require.Zero(t, e.count(`SELECT count(*) FROM events`))

	want := map[string]struct{ id, typ string }{
		"delivered":        {"mailgun:CPgfbmQMTCKtHW6uIWtuVe", "email_delivered"},
		"opened":           {"mailgun:Ase7i2zsRYeDXztHGENqRA", "email_opened"},
		"clicked":          {"mailgun:Ase7i2zsRYeDXztHGENqRB", "email_clicked"},
		"failed_permanent": {"mailgun:G9Bn5sl1TC6nu79C8C0bwg", "email_bounced"},
		"unsubscribed":     {"mailgun:Ase7i2zsRYeDXztHGENqRC", "email_unsubscribed"},
		"complained":       {"mailgun:-Agny091SquKnsrW2NEKUA", "email_spam_reported"},
	}
	for name, w := range want {
		a := post(mailgunBody(t, mailgunKey, string(sample(t, "mailgun_"+name+".json")), false)).integration(t)
		require.Equal(t, 1, a.Accepted, name)
		ev := e.event(w.id)
		require.Equal(t, w.typ, ev.Type, name)
		require.Equal(t, "alice@example.com", ev.ContactID)
		require.Equal(t, "my_tag_1", ev.Properties["campaign"], name)
		require.Equal(t, []any{"my_tag_1", "my_tag_2"}, ev.Properties["tags"], name)
		require.Equal(t, "awesome", ev.Properties["metadata"].(map[string]any)["my-var-2"], name)
	}
	require.Equal(t, "http://mailgun.net", e.event("mailgun:Ase7i2zsRYeDXztHGENqRB").Properties["url"])
	bounce := e.event("mailgun:G9Bn5sl1TC6nu79C8C0bwg")
	require.Equal(t, true, bounce.Properties["permanent"])
	require.EqualValues(t, 605, bounce.Properties["code"])
	require.Equal(t, "Not delivering to previously bounced address", bounce.Properties["description"])
	require.WithinDuration(t, time.Unix(1521233195, 375624000), bounce.OccurredAt, time.Microsecond)

	// A temporary failure is Mailgun's to retry: ignored.
	a := post(mailgunBody(t, mailgunKey, string(sample(t, "mailgun_failed_temporary.json")), false)).integration(t)
	require.Equal(t, 0, a.Accepted)
	require.Equal(t, 1, a.Ignored)

	// Mailgun's retry is a duplicate.
	a = post(mailgunBody(t, mailgunKey, clicked, false)).integration(t)
	require.Equal(t, 1, a.Duplicates)
	require.Equal(t, 6, e.count(`SELECT count(*) FROM events`))

	// A subaccount's event signed with the primary account's key.
	parent := strings.Replace(string(mailgunBody(t, mailgunKey, `{"event": "opened", "id": "sub-1", "recipient": "bob@example.com", "timestamp": 1521243340}`, false)),
		`"signature": "`, `"signature": "00`, 1)
	parent = strings.Replace(parent, `"token"`, `"parent-signature": "`+mailgunHMAC(mailgunKey)+`", "token"`, 1)
	a = post([]byte(parent)).integration(t)
	require.Equal(t, 1, a.Accepted)

	// Not Mailgun's JSON webhook: 406, the status that stops its retries.
	r = post([]byte(`timestamp=1&token=x&signature=y`))
	require.Equal(t, 406, r.code)
	r = post([]byte(`{"signature": {"timestamp": "1529006854", "token": "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0", "signature": "` + mailgunHMAC(mailgunKey) + `"}}`))
	require.Equal(t, 406, r.code)
	_, details := r.errBody(t)
	require.Equal(t, []string{"event-data"}, detailPaths(details))

	// A record without a valid recipient is skipped, not refused.
	a = post(mailgunBody(t, mailgunKey, `{"event": "opened", "id": "x-1", "recipient": "nobody", "timestamp": 1521243340}`, false)).integration(t)
	require.Equal(t, 0, a.Accepted)
	require.Len(t, a.Skipped, 1)
	require.Equal(t, "event-data.recipient", a.Skipped[0].Path)
}

func mailgunHMAC(key string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte("1529006854a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestPostmarkWebhook(t *testing.T) {
	t.Parallel()
	e := integrationEnv(t, newSendGridSigner(t))
	post := func(body []byte, user, pass string) resp {
		req := httptest.NewRequest("POST", "/v1/integrations/postmark", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		return e.send(req)
	}
	open := sample(t, "postmark_open.json")
	r := post(open, "", "")
	require.Equal(t, 401, r.code)
	require.Contains(t, r.header.Get("WWW-Authenticate"), "Basic")
	require.Equal(t, 401, post(open, postmarkUser, "wrong").code)
	require.Equal(t, 401, post(open, adminKey, "").code, "leadflow's keys are not Postmark's credentials")
	require.Zero(t, e.count(`SELECT count(*) FROM events`))

	want := map[string]struct{ id, typ, contact string }{
		"delivery":            {"", "email_delivered", "john@example.com"},
		"open":                {"", "email_opened", "john@example.com"},
		"click":               {"", "email_clicked", "john@example.com"},
		"bounce":              {"postmark:bounce:42", "email_bounced", "john@example.com"},
		"spam_complaint":      {"postmark:spamcomplaint:43", "email_spam_reported", "john@example.com"},
		"subscription_change": {"", "email_unsubscribed", "bounced-address@wildbit.com"},
	}
	ids := map[string]string{}
	for name, w := range want {
		a := post(sample(t, "postmark_"+name+".json"), postmarkUser, postmarkPass).integration(t)
		require.Equal(t, 1, a.Accepted, name)
		if w.id != "" {
			require.Equal(t, w.id, a.IDs[0])
		}
		ids[name] = a.IDs[0]
		ev := e.event(a.IDs[0])
		require.Equal(t, w.typ, ev.Type, name)
		require.Equal(t, w.contact, ev.ContactID, name)
		require.Equal(t, "postmark", ev.Properties["provider"])
	}
	require.True(t, strings.HasPrefix(ids["open"], "postmark:open:883953f4-6105-42a2-a16a-77a8eac79483:2019-11-05T16:33:54.9070259Z:"), ids["open"])
	openEv := e.event(ids["open"])
	require.Equal(t, "welcome-email", openEv.Properties["campaign"])
	require.Equal(t, true, openEv.Properties["first_open"])
	require.WithinDuration(t, time.Date(2019, 11, 5, 16, 33, 54, 907025900, time.UTC), openEv.OccurredAt, time.Microsecond)
	require.Equal(t, "https://example.com", e.event(ids["click"]).Properties["url"])
	bounce := e.event("postmark:bounce:42")
	require.Equal(t, "HardBounce", bounce.Properties["bounce_type"])
	require.Equal(t, true, bounce.Properties["permanent"])
	require.Equal(t, "Test", bounce.Properties["campaign"])
	require.Equal(t, "a_value", bounce.Properties["metadata"].(map[string]any)["a_key"])

	// Postmark's retry is a duplicate.
	a := post(open, postmarkUser, postmarkPass).integration(t)
	require.Equal(t, 1, a.Duplicates)

	// A subscription change because of a hard bounce is reported by the
	// Bounce webhook; a resubscription is recorded.
	var sc map[string]any
	require.NoError(t, json.Unmarshal(sample(t, "postmark_subscription_change.json"), &sc))
	sc["SuppressionReason"] = "HardBounce"
	sc["ChangedAt"] = "2020-02-02T10:53:34Z"
	b, _ := json.Marshal(sc)
	require.Equal(t, 1, post(b, postmarkUser, postmarkPass).integration(t).Ignored)
	sc["SuppressSending"] = false
	b, _ = json.Marshal(sc)
	a = post(b, postmarkUser, postmarkPass).integration(t)
	require.Equal(t, "email_resubscribed", e.event(a.IDs[0]).Type)
	require.Equal(t, 1, post([]byte(`{"RecordType": "Inbound"}`), postmarkUser, postmarkPass).integration(t).Ignored)
	require.Equal(t, 400, post([]byte(`[1]`), postmarkUser, postmarkPass).code)
}
