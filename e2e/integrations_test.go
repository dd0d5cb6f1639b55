package e2e

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
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/worker"
)

// integrationsAPI serves the API of st with the email providers' webhooks
// configured (test keys), and returns its URL.
func (st *stack) integrationsAPI(in api.Integrations) string {
	h := api.New(api.Config{Store: st.Store, Waker: worker.NewWaker(st.Store, st.log), InsertsNotify: true,
		AdminKey: adminKey, IngestKey: ingestKey, Log: st.log, Integrations: in})
	srv := httptest.NewServer(h)
	st.t.Cleanup(srv.Close)
	return srv.URL
}

func providerSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../api/testdata/integrations/" + name)
	require.NoError(t, err)
	return b
}

func postRaw(t *testing.T, url string, body []byte, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// Email providers point their event webhooks at leadflow: their published
// sample payloads, signed the documented way with test keys, reach the
// shipped score models and flows — an open ends the "no opens in 60 days"
// watch, clicks on a nurture email score in the main model, unsubscribing
// loses points — and a tampered signature stores nothing.
func TestEmailProviderWebhooksScoreShippedModels(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	const mailgunKey, pmUser, pmPass = "key-e2e-mailgun", "pm", "pm-secret"
	base := st.integrationsAPI(api.Integrations{SendGridVerificationKey: base64.StdEncoding.EncodeToString(der),
		MailgunSigningKey: mailgunKey, PostmarkUser: pmUser, PostmarkPassword: pmPass})

	// SendGrid's "Test Your Integration" payload for our lead, with the
	// category of a nurture campaign and times of now (the sample's are
	// from 2021, which the models' decay would shrink).
	var events []map[string]any
	require.NoError(t, json.Unmarshal(providerSample(t, "sendgrid.json"), &events))
	byKind := map[string]map[string]any{}
	for _, e := range events {
		e["email"] = "Lead@Acme.example"
		e["category"] = []any{"nurture"}
		e["timestamp"] = time.Now().Unix()
		byKind[e["event"].(string)] = e
	}
	sendgrid := func(batch ...map[string]any) map[string]any {
		t.Helper()
		body, err := json.Marshal(batch)
		require.NoError(t, err)
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h := sha256.Sum256(append([]byte(ts), body...))
		sig, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
		require.NoError(t, err)
		code, out := postRaw(t, base+"/v1/integrations/sendgrid", body, map[string]string{
			"X-Twilio-Email-Event-Webhook-Signature": base64.StdEncoding.EncodeToString(sig),
			"X-Twilio-Email-Event-Webhook-Timestamp": ts})
		require.Equal(t, 200, code, "%v", out)
		return out
	}

	// Delivered: the contact appears (id = the lower-cased email) and the
	// shipped flow starts waiting 60 days for an open.
	out := sendgrid(byKind["processed"], byKind["delivered"])
	require.EqualValues(t, 1, out["accepted"])
	require.EqualValues(t, 1, out["ignored"])
	c := st.eventually("lead@acme.example", 15*time.Second, func(c contact) bool {
		return len(c.FlowRuns) == 1 && c.FlowRuns[0]["wait_event"] == "email_opened"
	})
	require.Equal(t, "Lead@Acme.example", c.Email)
	require.Equal(t, "dead-end-no-opens", c.FlowRuns[0]["flow_id"])

	// A tampered batch stores nothing.
	body, err := json.Marshal([]map[string]any{byKind["open"]})
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
	require.NoError(t, err)
	code, _ := postRaw(t, base+"/v1/integrations/sendgrid", bytes.Replace(body, []byte("open"), []byte("click"), 1), map[string]string{
		"X-Twilio-Email-Event-Webhook-Signature": base64.StdEncoding.EncodeToString(sig),
		"X-Twilio-Email-Event-Webhook-Timestamp": ts})
	require.Equal(t, 401, code)

	// Open, click, unsubscribe — and SendGrid's retry of the same batch.
	out = sendgrid(byKind["open"], byKind["click"], byKind["unsubscribe"])
	require.EqualValues(t, 3, out["accepted"])
	out = sendgrid(byKind["open"], byKind["click"], byKind["unsubscribe"])
	require.EqualValues(t, 3, out["duplicates"])
	c = st.eventually("lead@acme.example", 15*time.Second, func(c contact) bool {
		return len(c.FlowRuns) == 0 && c.Scores["main"].Score == -9
	})
	require.False(t, c.Disqualified, "the open ended the watch")
	// SharpSpring-style engagement: open +1, click +3 (decaying with a
	// 30-day half-life: a hair below 4 seconds later).
	require.InDelta(t, 4.0, c.Scores["sharpspring"].Score, 0.01)
	entries, _ := st.history("lead@acme.example")
	reasons := map[string]float64{}
	for _, e := range entries {
		reasons[e.Model+"/"+e.RuleID] += e.Points
	}
	require.Equal(t, 1.0, reasons["main/nurture-onboarding-click"], "the campaign filter of the Encharge model matched: %v", reasons)
	require.Equal(t, -10.0, reasons["main/unsubscribed"])

	// Mailgun: a click in an onboarding email (its tag) scores the main
	// model too; Postmark: an open scores engagement.
	var clicked map[string]any
	require.NoError(t, json.Unmarshal(providerSample(t, "mailgun_clicked.json"), &clicked))
	clicked["recipient"] = "mg@acme.example"
	clicked["tags"] = []any{"onboarding"}
	clicked["timestamp"] = float64(time.Now().UnixNano()) / 1e9
	data, err := json.Marshal(clicked)
	require.NoError(t, err)
	mac := hmac.New(sha256.New, []byte(mailgunKey))
	mac.Write([]byte("1700000000tok-e2e-1"))
	mg := fmt.Sprintf(`{"signature": {"timestamp": "1700000000", "token": "tok-e2e-1", "signature": %q}, "event-data": %s}`,
		hex.EncodeToString(mac.Sum(nil)), data)
	code, out = postRaw(t, base+"/v1/integrations/mailgun", []byte(mg), nil)
	require.Equal(t, 200, code, "%v", out)
	c = st.eventually("mg@acme.example", 15*time.Second, func(c contact) bool { return c.Scores["main"].Score == 1 })
	require.InDelta(t, 3.0, c.Scores["sharpspring"].Score, 0.01)

	var open map[string]any
	require.NoError(t, json.Unmarshal(providerSample(t, "postmark_open.json"), &open))
	open["Recipient"] = "pm@acme.example"
	open["ReceivedAt"] = time.Now().UTC().Format(time.RFC3339Nano)
	data, err = json.Marshal(open)
	require.NoError(t, err)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(pmUser+":"+pmPass))
	code, out = postRaw(t, base+"/v1/integrations/postmark", data, map[string]string{"Authorization": auth})
	require.Equal(t, 200, code, "%v", out)
	c = st.eventually("pm@acme.example", 15*time.Second, func(c contact) bool { return c.Scores["sharpspring"].Score > 0.99 })
	require.InDelta(t, 1.0, c.Scores["sharpspring"].Score, 0.01)
}
