package metrics

import "github.com/prometheus/client_golang/prometheus"

// EventsConflicts counts events whose id was already in the log with
// different content (type, contact, properties, contact changes), by source.
// POST /v1/events and /v1/contacts refuse them (409); the Segment routes
// acknowledge them as Segment does but do not store them.
var EventsConflicts = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: namespace, Name: "events_conflicts_total",
	Help: "Events whose id was already used for different content (refused on /v1/events, skipped on the Segment routes), by source.",
}, []string{"source"})

// RequestsRefused counts ingestion requests refused with 400 because of
// what they hold (limits, reserved types, malformed JSON), by source.
var RequestsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: namespace, Name: "ingest_requests_refused_total",
	Help: "Ingestion requests refused as invalid (400), by source (events, segment, contacts).",
}, []string{"source"})

func init() {
	Registry.MustRegister(EventsConflicts, RequestsRefused)
	for _, s := range []string{SourceEvents, SourceSegment, SourceContacts} {
		EventsConflicts.WithLabelValues(s)
		RequestsRefused.WithLabelValues(s)
	}
}
