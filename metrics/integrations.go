package metrics

import "github.com/prometheus/client_golang/prometheus"

// Sources of the email providers' event webhooks (the label "source" of
// EventsAccepted, EventsConflicts and RequestsRefused, and "provider"
// below).
const (
	SourceSendGrid = "sendgrid" // POST /v1/integrations/sendgrid
	SourceMailgun  = "mailgun"  // POST /v1/integrations/mailgun
	SourcePostmark = "postmark" // POST /v1/integrations/postmark
)

var (
	// IntegrationRecordsSkipped counts records of a verified provider
	// webhook that could not be stored (no valid email, a value beyond the
	// edge limits); the other records of the request were stored.
	IntegrationRecordsSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "integration_records_skipped_total",
		Help: "Email provider webhook records that could not be stored (invalid email, values beyond the limits), by provider.",
	}, []string{"provider"})
	// IntegrationRecordsIgnored counts records of kinds leadflow does not
	// record (SendGrid processed/deferred, Mailgun accepted, …).
	IntegrationRecordsIgnored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "integration_records_ignored_total",
		Help: "Email provider webhook records of kinds leadflow does not record (processed, deferred, accepted, …), by provider.",
	}, []string{"provider"})
)

func init() {
	Registry.MustRegister(IntegrationRecordsSkipped, IntegrationRecordsIgnored)
	for _, s := range []string{SourceSendGrid, SourceMailgun, SourcePostmark} {
		IntegrationRecordsSkipped.WithLabelValues(s)
		IntegrationRecordsIgnored.WithLabelValues(s)
		EventsAccepted.WithLabelValues(s)
		EventsConflicts.WithLabelValues(s)
		RequestsRefused.WithLabelValues(s)
	}
}
