package api

// Mailgun's webhooks (POST /v1/integrations/mailgun): one event per
// request, {"signature": {"timestamp", "token", "signature"}, "event-data":
// {...}}. The signature is the hex HMAC-SHA256 of timestamp + token keyed
// with the HTTP webhook signing key; "parent-signature" (events of a
// subaccount, signed with the primary account's key) is accepted too.
//
// Events → event types: delivered → email_delivered, opened →
// email_opened, clicked → email_clicked (url), failed with severity
// permanent → email_bounced (permanent, reason, code, description),
// unsubscribed → email_unsubscribed, complained → email_spam_reported.
// accepted, rejected, stored, failed with severity temporary (Mailgun
// retries the delivery) and anything else are ignored. The event id is
// "mailgun:" + event-data.id. The campaign is the first campaign's name,
// else the first tag; tags are "tags"; user-variables are "metadata".
//
// Mailgun stops retrying only on 200 and 406, so a verified request whose
// payload is not what Mailgun documents is answered 406 (resending cannot
// help); an unverified one 401 (Mailgun retries for 8 hours, long enough
// to fix a wrong key).

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// verifyMailgun checks a Mailgun signature: hex HMAC-SHA256(key,
// timestamp + token).
func verifyMailgun(key []byte, timestamp, token, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp))
	mac.Write([]byte(token))
	return hmac.Equal(mac.Sum(nil), got)
}

func (s *server) postMailgun(w http.ResponseWriter, r *http.Request) {
	const provider = metrics.SourceMailgun
	key := s.integrations.mailgunKey
	if len(key) == 0 {
		notConfigured(w, "Mailgun", "LEADFLOW_MAILGUN_SIGNING_KEY (Mailgun's HTTP webhook signing key)")
		return
	}
	body, err := s.readRaw(w, r)
	if err != nil {
		s.refusePayload(w, r, provider, http.StatusNotAcceptable, err)
		return
	}
	payload, err := decodePayload(body)
	if err != nil {
		s.refusePayload(w, r, provider, http.StatusNotAcceptable, fmt.Errorf("%w (leadflow reads Mailgun's JSON webhooks)", err))
		return
	}
	top, _ := payload.(map[string]any)
	sig, _ := top["signature"].(map[string]any)
	if sig == nil {
		s.unverified(w, r, provider, `missing the "signature" object Mailgun signs its webhooks with`)
		return
	}
	ts, token := mailgunString(sig["timestamp"]), getString(sig, "token")
	if ts == "" || token == "" ||
		!verifyMailgun(key, ts, token, getString(sig, "signature")) && !verifyMailgun(key, ts, token, getString(sig, "parent-signature")) {
		s.unverified(w, r, provider, "the Mailgun signature does not match the configured webhook signing key")
		return
	}
	data, ok := top["event-data"].(map[string]any)
	if !ok {
		s.refusePayload(w, r, provider, http.StatusNotAcceptable,
			badRequest([]detail{{Path: "event-data", Message: "is required: the object describing the event"}}))
		return
	}
	var pr providerRecords
	mailgunRecord(data, "event-data", s.cfg.Now(), &pr)
	s.acceptRecords(w, r, provider, &pr)
}

// mailgunString reads a member Mailgun sends as a string or a number.
func mailgunString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case fmt.Stringer: // json.Number
		return x.String()
	}
	return ""
}

// mailgunTypes maps Mailgun's event names to event types ("failed" is
// decided by its severity).
var mailgunTypes = map[string]string{
	"delivered":    typeEmailDelivered,
	"opened":       typeEmailOpened,
	"clicked":      typeEmailClicked,
	"failed":       typeEmailBounced,
	"unsubscribed": typeEmailUnsubscribed,
	"complained":   typeEmailSpamReported,
}

// mailgunRecord maps one Mailgun event-data object.
func mailgunRecord(m map[string]any, path string, now time.Time, pr *providerRecords) {
	name := getString(m, "event")
	typ, ok := mailgunTypes[name]
	if !ok || name == "failed" && getString(m, "severity") != "permanent" {
		pr.ignored++
		return
	}
	e := store.EventRow{Type: typ, OccurredAt: now}
	if !emailContact(&e, getString(m, "recipient"), field(path, "recipient"), pr) {
		return
	}
	if id := getString(m, "id"); id != "" {
		e.ID = "mailgun:" + id
	} else {
		e.ID = "mailgun:" + shortHash(name, e.ContactID, fmt.Sprint(m["timestamp"]), getString(m, "url"))
	}
	if t, ok := unixTime(m["timestamp"]); ok {
		e.OccurredAt = t
	} else if m["timestamp"] != nil {
		pr.skip(field(path, "timestamp"), "must be a Unix time in seconds")
		return
	}
	props := map[string]any{"provider": "mailgun"}
	if msg, ok := m["message"].(map[string]any); ok {
		if h, ok := msg["headers"].(map[string]any); ok {
			if id := getString(h, "message-id"); id != "" {
				props["message_id"] = id
			}
		}
	}
	tags := stringList(m["tags"])
	if len(tags) > 0 {
		props["tags"] = toAnyList(tags)
	}
	if c := mailgunCampaign(m["campaigns"]); c != "" {
		props["campaign"] = c
	} else if len(tags) > 0 {
		props["campaign"] = tags[0]
	}
	if vars, ok := m["user-variables"].(map[string]any); ok && len(vars) > 0 {
		props["metadata"] = vars
	}
	switch typ {
	case typeEmailClicked:
		if u := getString(m, "url"); u != "" {
			props["url"] = u
		}
	case typeEmailBounced:
		props["permanent"] = true
		copyStrings(props, m, "reason")
		if ds, ok := m["delivery-status"].(map[string]any); ok {
			if c, ok := ds["code"]; ok && c != nil {
				props["code"] = c
			}
			if d := getString(ds, "description"); d != "" {
				props["description"] = d
			} else if d := getString(ds, "message"); d != "" {
				props["description"] = d
			}
		}
	}
	e.Properties = props
	pr.add(e, path, now)
}

// mailgunCampaign reads the first campaign's name (or id) of
// "campaigns": [{"id": ..., "name": ...}].
func mailgunCampaign(v any) string {
	list, _ := v.([]any)
	for _, it := range list {
		switch c := it.(type) {
		case map[string]any:
			if n := getString(c, "name"); n != "" {
				return n
			}
			if id := getString(c, "id"); id != "" {
				return id
			}
		case string:
			if c != "" {
				return c
			}
		}
	}
	return ""
}
