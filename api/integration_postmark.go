package api

// Postmark's webhooks (POST /v1/integrations/postmark): one record per
// request, its kind in "RecordType", authenticated by the HTTP Basic
// credentials put in the webhook URL (https://user:password@host/...),
// which Postmark documents as the way to protect a webhook.
//
// Records → event types: Delivery → email_delivered, Open → email_opened
// (first_open), Click → email_clicked (url: OriginalLink), Bounce →
// email_bounced (bounce_type: Postmark's Type, permanent: Inactive),
// SpamComplaint → email_spam_reported, SubscriptionChange → with
// SuppressSending email_unsubscribed when the recipient unsubscribed
// (SuppressionReason ManualSuppression; hard bounces and spam complaints
// come through their own webhooks) and email_resubscribed without it.
// Other record types are ignored. The event id is "postmark:" + the record
// type + (Bounce, SpamComplaint) Postmark's ID, or + MessageID + the
// record's time + a digest of the recipient and link, so a retry is a
// duplicate. The campaign is the Tag; Metadata is "metadata".
//
// Postmark stops retrying on 403 only; a verified request with an invalid
// payload is answered 400 (Postmark retries 10 times over ~10 hours).

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

func (s *server) postPostmark(w http.ResponseWriter, r *http.Request) {
	const provider = metrics.SourcePostmark
	in := s.integrations
	if in.postmarkUser == "" {
		notConfigured(w, "Postmark", "LEADFLOW_POSTMARK_USER and LEADFLOW_POSTMARK_PASSWORD (the Basic credentials of the Postmark webhook URL)")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="leadflow postmark webhook"`)
		s.unverified(w, r, provider, "missing HTTP Basic credentials: set the Postmark webhook URL to https://<user>:<password>@<leadflow host>/v1/integrations/postmark")
		return
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(in.postmarkUser)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(in.postmarkPass)) == 1
	if !userOK || !passOK {
		w.Header().Set("WWW-Authenticate", `Basic realm="leadflow postmark webhook"`)
		s.unverified(w, r, provider, "the Postmark webhook's Basic credentials do not match LEADFLOW_POSTMARK_USER / LEADFLOW_POSTMARK_PASSWORD")
		return
	}
	body, err := s.readRaw(w, r)
	if err != nil {
		s.refusePayload(w, r, provider, http.StatusBadRequest, err)
		return
	}
	payload, err := decodePayload(body)
	if err != nil {
		s.refusePayload(w, r, provider, http.StatusBadRequest, err)
		return
	}
	m, ok := payload.(map[string]any)
	if !ok {
		s.refusePayload(w, r, provider, http.StatusBadRequest, badRequest([]detail{{Message: "must be a Postmark webhook record (a JSON object with RecordType)"}}))
		return
	}
	var pr providerRecords
	postmarkRecord(m, "", s.cfg.Now(), &pr)
	s.acceptRecords(w, r, provider, &pr)
}

// postmarkRecord maps one Postmark webhook record.
func postmarkRecord(m map[string]any, path string, now time.Time, pr *providerRecords) {
	kind := getString(m, "RecordType")
	var typ, emailKey, timeKey string
	switch kind {
	case "Delivery":
		typ, emailKey, timeKey = typeEmailDelivered, "Recipient", "DeliveredAt"
	case "Open":
		typ, emailKey, timeKey = typeEmailOpened, "Recipient", "ReceivedAt"
	case "Click":
		typ, emailKey, timeKey = typeEmailClicked, "Recipient", "ReceivedAt"
	case "Bounce":
		typ, emailKey, timeKey = typeEmailBounced, "Email", "BouncedAt"
	case "SpamComplaint":
		typ, emailKey, timeKey = typeEmailSpamReported, "Email", "BouncedAt"
	case "SubscriptionChange":
		emailKey, timeKey = "Recipient", "ChangedAt"
		suppress, _ := m["SuppressSending"].(bool)
		switch {
		case !suppress:
			typ = typeEmailResubscribed
		case getString(m, "SuppressionReason") == "ManualSuppression":
			typ = typeEmailUnsubscribed
		default: // HardBounce, SpamComplaint: reported by their own webhooks
			pr.ignored++
			return
		}
	default:
		pr.ignored++
		return
	}
	e := store.EventRow{Type: typ, OccurredAt: now}
	if !emailContact(&e, getString(m, emailKey), field(path, emailKey), pr) {
		return
	}
	at := getString(m, timeKey)
	if at != "" {
		t, ok := parseTime(at)
		if !ok {
			pr.skip(field(path, timeKey), "%q is not an ISO 8601 time", at)
			return
		}
		e.OccurredAt = t
	}
	msgID := getString(m, "MessageID")
	if id, ok := m["ID"]; ok && id != nil && (kind == "Bounce" || kind == "SpamComplaint") {
		e.ID = fmt.Sprintf("postmark:%s:%v", strings.ToLower(kind), id)
	} else {
		e.ID = fmt.Sprintf("postmark:%s:%s:%s:%s", strings.ToLower(kind), msgID, at,
			shortHash(e.ContactID, getString(m, "OriginalLink")))
	}
	props := map[string]any{"provider": "postmark"}
	if msgID != "" {
		props["message_id"] = msgID
	}
	if stream := getString(m, "MessageStream"); stream != "" {
		props["message_stream"] = stream
	}
	if tag := getString(m, "Tag"); tag != "" {
		props["campaign"] = tag
		props["tags"] = []any{tag}
	}
	if md, ok := m["Metadata"].(map[string]any); ok && len(md) > 0 {
		props["metadata"] = md
	}
	switch kind {
	case "Open":
		if first, ok := m["FirstOpen"].(bool); ok {
			props["first_open"] = first
		}
	case "Click":
		if u := getString(m, "OriginalLink"); u != "" {
			props["url"] = u
		}
	case "Bounce":
		props["bounce_type"] = getString(m, "Type")
		inactive, _ := m["Inactive"].(bool)
		props["permanent"] = inactive
		if d := getString(m, "Description"); d != "" {
			props["description"] = d
		}
		if d := getString(m, "Details"); d != "" {
			props["reason"] = d
		}
	case "SubscriptionChange":
		if o := getString(m, "Origin"); o != "" {
			props["origin"] = o
		}
	}
	e.Properties = props
	pr.add(e, path, now)
}
