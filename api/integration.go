package api

// The email providers' event webhooks: POST /v1/integrations/sendgrid,
// /v1/integrations/mailgun and /v1/integrations/postmark. Each provider
// posts its own payload, authenticated its own way (SendGrid's ECDSA
// signature, Mailgun's HMAC, Postmark's HTTP Basic credentials) — never
// with leadflow's keys. Each file integration_<provider>.go reads one
// provider's records into events; this file holds what they share:
// configuration, reading the raw body, the edge checks of every record and
// the append.
//
// What a provider's request can do:
//   - unverifiable (no signature, a wrong one, wrong credentials): 401,
//     nothing stored; the provider retries for a while, which is right if
//     leadflow's secret was being changed;
//   - the provider is not configured here: 404 naming the setting;
//   - verified but not JSON of the documented shape: 400 (Mailgun: 406,
//     the one status that stops its retries), nothing stored: resending it
//     cannot help;
//   - verified: 200. Records leadflow maps are appended (their event ids
//     are the provider's, so a retry is a duplicate); records of kinds it
//     does not use (SendGrid's processed and deferred, Mailgun's accepted,
//     …) are counted in "ignored"; a record that cannot be stored (no valid
//     email, a value beyond the edge limits) is skipped and reported in
//     "skipped" with its path and why. One bad record never costs the good
//     ones of a batch, and never makes the provider resend the batch for
//     ever.

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// Integrations configures the email providers' event webhooks. A provider
// whose secret is empty is off: its route answers 404 naming the setting.
type Integrations struct {
	// SendGridVerificationKey is the Signed Event Webhook's verification
	// key as SendGrid shows it (base64 of the DER public key; a PEM block
	// is accepted too). Env LEADFLOW_SENDGRID_VERIFICATION_KEY.
	SendGridVerificationKey string
	// MailgunSigningKey is Mailgun's HTTP webhook signing key. Env
	// LEADFLOW_MAILGUN_SIGNING_KEY.
	MailgunSigningKey string
	// PostmarkUser and PostmarkPassword are the HTTP Basic credentials put
	// in the Postmark webhook's URL (https://user:password@host/...). Both
	// are needed. Env LEADFLOW_POSTMARK_USER, LEADFLOW_POSTMARK_PASSWORD.
	PostmarkUser, PostmarkPassword string
}

// Check reports a setting that cannot work (a SendGrid key that is not an
// ECDSA P-256 public key, one Postmark credential without the other), so
// that a server refuses to start rather than answer every webhook 503.
func (c Integrations) Check() error {
	if c.SendGridVerificationKey != "" {
		if _, err := parseSendGridKey(c.SendGridVerificationKey); err != nil {
			return fmt.Errorf("LEADFLOW_SENDGRID_VERIFICATION_KEY: %w", err)
		}
	}
	if (c.PostmarkUser == "") != (c.PostmarkPassword == "") {
		return errors.New("LEADFLOW_POSTMARK_USER and LEADFLOW_POSTMARK_PASSWORD must be set together (the Basic credentials of the Postmark webhook URL)")
	}
	return nil
}

// integrations is the parsed configuration the handlers use.
type integrations struct {
	sendgridKey    *ecdsa.PublicKey
	sendgridKeyErr error // the configured key does not parse
	mailgunKey     []byte
	postmarkUser   string
	postmarkPass   string
}

func newIntegrations(c Integrations) integrations {
	var in integrations
	if c.SendGridVerificationKey != "" {
		in.sendgridKey, in.sendgridKeyErr = parseSendGridKey(c.SendGridVerificationKey)
	}
	in.mailgunKey = []byte(c.MailgunSigningKey)
	if c.PostmarkUser != "" && c.PostmarkPassword != "" {
		in.postmarkUser, in.postmarkPass = c.PostmarkUser, c.PostmarkPassword
	}
	return in
}

// Email event types the providers' records become. email_opened,
// email_clicked, email_bounced and email_unsubscribed are flow trigger
// types; the others are matched with {"type": "event", "event": ...}.
const (
	typeEmailDelivered    = "email_delivered"
	typeEmailOpened       = "email_opened"
	typeEmailClicked      = "email_clicked"
	typeEmailBounced      = "email_bounced"
	typeEmailDropped      = "email_dropped"
	typeEmailSpamReported = "email_spam_reported"
	typeEmailUnsubscribed = "email_unsubscribed"
	typeEmailResubscribed = "email_resubscribed"
)

// integrationResponse answers a provider's webhook.
type integrationResponse struct {
	acceptedResponse
	// Ignored counts records of kinds leadflow does not record (SendGrid's
	// processed and deferred, Mailgun's accepted, …).
	Ignored int `json:"ignored"`
	// Skipped lists the records that could not be stored, each with its
	// path in the payload and why; the others were stored.
	Skipped []detail `json:"skipped,omitempty"`
}

// providerRecords is what a provider's payload holds once read.
type providerRecords struct {
	events  []store.EventRow
	paths   []string // each event's path in the payload
	ignored int
	skipped problems
}

// add keeps a mapped record unless it breaks the edge limits, which skip it
// (with every problem named) without refusing the others.
func (pr *providerRecords) add(e store.EventRow, path string, now time.Time) {
	var p problems
	checkEvent(e, path, false, &p)
	checkTime(e.OccurredAt, now, field(path, "timestamp"), &p)
	if !p.empty() {
		pr.skipped.list = append(pr.skipped.list, p.list...)
		return
	}
	pr.events = append(pr.events, e)
	pr.paths = append(pr.paths, path)
}

func (pr *providerRecords) skip(path, format string, args ...any) {
	pr.skipped.add(path, format, args...)
}

// notConfigured answers a provider's route while its secret is not set.
func notConfigured(w http.ResponseWriter, provider, setting string) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("the %s integration is not configured on this server: set %s", provider, setting))
}

// unverified answers a request whose signature or credentials do not check.
func (s *server) unverified(w http.ResponseWriter, r *http.Request, provider, msg string) {
	metrics.RequestsRefused.WithLabelValues(provider).Inc()
	s.log.Warn().Str("provider", provider).Str("remote", r.RemoteAddr).Str("reason", msg).Msg("unverified email provider webhook refused")
	writeError(w, http.StatusUnauthorized, msg+"; nothing of this request was stored")
}

// acceptRecords appends the records' events (ConflictSkip: a provider id
// reused for other content is acknowledged, counted and logged, as on the
// Segment routes) and answers 200 with what happened to every record.
func (s *server) acceptRecords(w http.ResponseWriter, r *http.Request, provider string, pr *providerRecords) {
	res := integrationResponse{Ignored: pr.ignored, Skipped: pr.skipped.list}
	if n := len(pr.skipped.list); n > 0 {
		metrics.IntegrationRecordsSkipped.WithLabelValues(provider).Add(float64(n))
		s.log.Warn().Str("provider", provider).Int("skipped", n).Str("first", summarize(pr.skipped.list)).
			Msg("email provider records skipped")
	}
	if pr.ignored > 0 {
		metrics.IntegrationRecordsIgnored.WithLabelValues(provider).Add(float64(pr.ignored))
	}
	res.IDs = []string{}
	if len(pr.events) > 0 {
		ctx := r.Context()
		out, err := s.cfg.Store.AppendEvents(ctx, pr.events, store.ConflictSkip)
		if err != nil {
			s.fail(w, r, fmt.Errorf("appending %d %s events: %w", len(pr.events), provider, err))
			return
		}
		if out.Conflicts > 0 {
			metrics.EventsConflicts.WithLabelValues(provider).Add(float64(out.Conflicts))
			for i, o := range out.Outcomes {
				if o == store.EventConflict {
					s.log.Warn().Str("event_id", pr.events[i].ID).Str("contact_id", pr.events[i].ContactID).
						Str("source", provider).Msg("event id already used for a different event; the new one was not stored")
				}
			}
		}
		s.logErased(pr.events, out, provider)
		metrics.EventsAccepted.WithLabelValues(provider).Add(float64(out.Inserted))
		s.wake(ctx, out.Partitions)
		res.Accepted, res.Duplicates, res.Conflicts, res.Erased = out.Inserted, out.Duplicates, out.Conflicts, out.Erased
		for _, e := range pr.events {
			res.IDs = append(res.IDs, e.ID)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// emailContact reads a recipient address: the contact is the lower-cased
// email, as when POST /v1/events is sent only "email".
func emailContact(e *store.EventRow, raw, path string, pr *providerRecords) bool {
	email := strings.TrimSpace(raw)
	if email == "" {
		pr.skip(path, "is required: the recipient's email address (the contact is its lower-cased form)")
		return false
	}
	if msg := checkEmail(email); msg != "" {
		pr.skip(path, "%s", msg)
		return false
	}
	id := strings.ToLower(email)
	if msg := checkID(id); msg != "" {
		pr.skip(path, "the contact id derived from the email (its lower-cased form) %s", msg)
		return false
	}
	e.ContactID, e.Email = id, &email
	return true
}

// shortHash is a short stable digest of parts, for ids built from several
// fields.
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// getString reads a string member of a decoded record ("" when absent or
// not a string).
func getString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// stringList reads a member that is a string or an array of strings.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []any:
		var out []string
		for _, it := range x {
			if s, ok := it.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// toAnyList turns tags into the []any a decoded JSON list is, so that a
// filter sees the same thing the event log gives back.
func toAnyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// decodePayload checks a verified body as every ingestion route does
// (parseIngest) and decodes it with numbers kept exact.
func decodePayload(body []byte) (any, error) {
	n, err := parseIngest(body)
	if err != nil {
		return nil, err
	}
	return n.Value(), nil
}

// refusePayload answers a verified request whose payload is not what the
// provider documents, with status (the provider's "do not retry" status
// where it has one): resending it cannot help.
func (s *server) refusePayload(w http.ResponseWriter, r *http.Request, provider string, status int, err error) {
	var re *requestError
	if !errors.As(err, &re) {
		s.fail(w, r, err)
		return
	}
	if re.status == http.StatusRequestEntityTooLarge {
		status = re.status
	}
	metrics.RequestsRefused.WithLabelValues(provider).Inc()
	writeError(w, status, re.msg+"; nothing of this request was stored", re.details...)
}

// unixTime reads a Unix time in seconds (an integer or, Mailgun, a number
// with a fraction).
func unixTime(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
}
