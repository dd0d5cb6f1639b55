package api

// SendGrid's Event Webhook (POST /v1/integrations/sendgrid): a JSON array
// of events, signed with the Signed Event Webhook — an ECDSA P-256
// signature (SHA-256, ASN.1 DER, base64) over the timestamp header's value
// followed by the raw body, in the headers
// X-Twilio-Email-Event-Webhook-Signature and -Timestamp, verified with the
// public verification key SendGrid shows once signing is enabled.
//
// Events → event types: delivered → email_delivered, open → email_opened,
// click → email_clicked (url), bounce → email_bounced (bounce_type "bounce"
// or "blocked", permanent unless blocked), dropped → email_dropped,
// spamreport → email_spam_reported, unsubscribe and group_unsubscribe →
// email_unsubscribed (group: the ASM group id), group_resubscribe →
// email_resubscribed. processed and deferred (and anything else) are
// ignored. The event id is "sendgrid:" + sg_event_id. The campaign is the
// marketing campaign's name, else the first category; all categories are
// "tags".
//
// SendGrid does not document a freshness window for the timestamp and
// retries for up to 72 hours, so none is enforced: a replayed request can
// only repeat events whose ids are already in the log (duplicates).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// SendGrid's signature headers.
const (
	sendgridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	sendgridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// parseSendGridKey reads the verification key: base64 of the DER
// (SubjectPublicKeyInfo) public key, as SendGrid shows it, or a PEM block.
func parseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else {
		var err error
		der, err = base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("the verification key is not base64 (paste it as SendGrid shows it): %w", err)
		}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("the verification key is not a public key: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("the verification key is not an ECDSA P-256 public key")
	}
	return key, nil
}

// verifySendGrid checks a Signed Event Webhook signature: ECDSA over
// SHA-256(timestamp + payload).
func verifySendGrid(key *ecdsa.PublicKey, timestamp string, payload []byte, signature string) bool {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return false
	}
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(payload)
	return ecdsa.VerifyASN1(key, h.Sum(nil), sig)
}

func (s *server) postSendGrid(w http.ResponseWriter, r *http.Request) {
	const provider = metrics.SourceSendGrid
	in := s.integrations
	switch {
	case in.sendgridKey == nil && in.sendgridKeyErr == nil:
		notConfigured(w, "SendGrid", "LEADFLOW_SENDGRID_VERIFICATION_KEY (the Signed Event Webhook's verification key)")
		return
	case in.sendgridKeyErr != nil:
		writeError(w, http.StatusServiceUnavailable, "the SendGrid integration is misconfigured: LEADFLOW_SENDGRID_VERIFICATION_KEY: "+in.sendgridKeyErr.Error())
		return
	}
	body, err := s.readRaw(w, r)
	if err != nil {
		s.refusePayload(w, r, provider, http.StatusBadRequest, err)
		return
	}
	sig, ts := r.Header.Get(sendgridSignatureHeader), r.Header.Get(sendgridTimestampHeader)
	switch {
	case sig == "" || ts == "":
		s.unverified(w, r, provider, "missing "+sendgridSignatureHeader+" or "+sendgridTimestampHeader+": enable the Signed Event Webhook in SendGrid's Mail Settings")
		return
	case !verifySendGrid(in.sendgridKey, ts, body, sig):
		s.unverified(w, r, provider, "the SendGrid signature does not match the payload and the configured verification key")
		return
	}
	payload, err := decodePayload(body)
	if err != nil {
		s.refusePayload(w, r, provider, http.StatusBadRequest, err)
		return
	}
	items, ok := payload.([]any)
	if !ok {
		s.refusePayload(w, r, provider, http.StatusBadRequest, badRequest([]detail{{Message: "must be a JSON array of SendGrid events"}}))
		return
	}
	now := s.cfg.Now()
	var pr providerRecords
	for i, it := range items {
		sendgridRecord(it, index("", i), now, &pr)
	}
	s.acceptRecords(w, r, provider, &pr)
}

// sendgridTypes maps SendGrid's event names to event types.
var sendgridTypes = map[string]string{
	"delivered":         typeEmailDelivered,
	"open":              typeEmailOpened,
	"click":             typeEmailClicked,
	"bounce":            typeEmailBounced,
	"dropped":           typeEmailDropped,
	"spamreport":        typeEmailSpamReported,
	"unsubscribe":       typeEmailUnsubscribed,
	"group_unsubscribe": typeEmailUnsubscribed,
	"group_resubscribe": typeEmailResubscribed,
}

// sendgridRecord maps one SendGrid event.
func sendgridRecord(v any, path string, now time.Time, pr *providerRecords) {
	m, ok := v.(map[string]any)
	if !ok {
		pr.skip(path, "must be an object (a SendGrid event)")
		return
	}
	typ, ok := sendgridTypes[getString(m, "event")]
	if !ok {
		pr.ignored++
		return
	}
	e := store.EventRow{Type: typ, OccurredAt: now}
	if !emailContact(&e, getString(m, "email"), field(path, "email"), pr) {
		return
	}
	if id := getString(m, "sg_event_id"); id != "" {
		e.ID = "sendgrid:" + id
	} else {
		// Events always carry sg_event_id; without one, the same event
		// resent must still be a duplicate.
		e.ID = "sendgrid:" + shortHash(getString(m, "event"), getString(m, "sg_message_id"), e.ContactID,
			fmt.Sprint(m["timestamp"]), getString(m, "url"))
	}
	if t, ok := unixTime(m["timestamp"]); ok {
		e.OccurredAt = t
	} else if m["timestamp"] != nil {
		pr.skip(field(path, "timestamp"), "must be a Unix time in seconds")
		return
	}
	props := map[string]any{"provider": "sendgrid"}
	if id := getString(m, "sg_message_id"); id != "" {
		props["message_id"] = id
	}
	categories := stringList(m["category"])
	if len(categories) > 0 {
		props["tags"] = toAnyList(categories)
	}
	if name := getString(m, "marketing_campaign_name"); name != "" {
		props["campaign"] = name
	} else if len(categories) > 0 {
		props["campaign"] = categories[0]
	}
	if id, ok := m["marketing_campaign_id"]; ok && id != nil {
		props["campaign_id"] = id
	}
	switch typ {
	case typeEmailClicked:
		if u := getString(m, "url"); u != "" {
			props["url"] = u
		}
	case typeEmailOpened:
		if mo, ok := m["sg_machine_open"].(bool); ok {
			props["machine_open"] = mo
		}
	case typeEmailBounced:
		kind := getString(m, "type") // "bounce" or "blocked"
		if kind == "" {
			kind = "bounce"
		}
		props["bounce_type"] = kind
		props["permanent"] = kind != "blocked"
		copyStrings(props, m, "reason", "status")
	case typeEmailDropped:
		copyStrings(props, m, "reason", "status")
	case typeEmailUnsubscribed, typeEmailResubscribed:
		if g, ok := m["asm_group_id"]; ok && g != nil {
			props["group"] = g
		}
	}
	e.Properties = props
	pr.add(e, path, now)
}

// copyStrings copies the string members keys of m that are not empty.
func copyStrings(props, m map[string]any, keys ...string) {
	for _, k := range keys {
		if s := getString(m, k); s != "" {
			props[k] = s
		}
	}
}
