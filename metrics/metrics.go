// Package metrics holds leadflow's Prometheus collectors, registered on one
// package-level registry that /metrics serves. The API increments the HTTP
// and acceptance metrics; the engine (activities, workflows' activities and
// delivery) increments the others.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "leadflow"

// Registry holds every leadflow collector plus the Go runtime and process
// collectors.
var Registry = prometheus.NewRegistry()

// Sources of accepted events (the label "source" of EventsAccepted).
const (
	SourceEvents   = "events"   // POST /v1/events
	SourceSegment  = "segment"  // the Segment-compatible routes
	SourceContacts = "contacts" // POST /v1/contacts
)

var (
	// EventsAccepted counts events newly appended to the event log (not
	// duplicates), by source: events, segment or contacts.
	EventsAccepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "events_accepted_total",
		Help: "Events newly appended to the event log, by source (events, segment, contacts).",
	}, []string{"source"})

	// EventsApplied counts events applied to contacts by partition batches.
	EventsApplied = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "events_applied_total",
		Help: "Events applied to contacts.",
	})

	// EventsFailed counts events quarantined because their application
	// failed for a reason retrying cannot fix (GET /v1/events/failed).
	EventsFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "events_failed_total",
		Help: "Events quarantined: their application failed for a reason retrying cannot fix.",
	})

	// DueFailures counts failed applications of a contact's time-driven
	// changes (decay, expiry, windows, date triggers), retried with a backoff.
	DueFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "due_failures_total",
		Help: "Failed applications of a contact's time-driven changes (retried later with a backoff).",
	})

	// RunsFailed counts flow runs failed because resuming them failed for
	// good or Temporal refused their workflow.
	RunsFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "runs_failed_total",
		Help: "Flow runs failed: resuming them failed for a reason retrying cannot fix, or Temporal refused their workflow.",
	})

	// FlowStepsExecuted counts flow steps executed, by step type.
	FlowStepsExecuted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "flow_steps_executed_total",
		Help: "Flow steps executed, by step type.",
	}, []string{"type"})

	// ScoreChanges counts score ledger entries written, by score model.
	ScoreChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "score_changes_total",
		Help: "Score changes (ledger entries), by score model.",
	}, []string{"model"})

	// CRMTasksCreated counts CRM tasks created.
	CRMTasksCreated = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "crm_tasks_created_total",
		Help: "CRM tasks created.",
	})

	// DeliveriesTotal counts delivery attempts of CRM tasks and webhooks, by
	// result (e.g. delivered, retry, failed).
	DeliveriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "deliveries_total",
		Help: "Outgoing deliveries (CRM task and webhook calls), by result.",
	}, []string{"result"})

	// ApplyBatchSeconds observes how long applying one partition batch takes.
	ApplyBatchSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "apply_batch_seconds",
		Help:    "Duration of applying one partition batch (one transaction).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})

	// ApplyBatchEvents observes how many events one partition batch applied.
	ApplyBatchEvents = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "apply_batch_events",
		Help:    "Events applied per partition batch.",
		Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500},
	})

	// EventLatencySeconds observes the time from an event's acceptance to its
	// application.
	EventLatencySeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "event_latency_seconds",
		Help:    "Time from an event's acceptance by the API to its application.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})

	// HTTPRequestSeconds observes HTTP request durations by route pattern
	// and status code.
	HTTPRequestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_seconds",
		Help:    "HTTP request duration, by route pattern and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "code"})
)

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		EventsAccepted,
		EventsApplied,
		EventsFailed,
		DueFailures,
		RunsFailed,
		FlowStepsExecuted,
		ScoreChanges,
		CRMTasksCreated,
		DeliveriesTotal,
		ApplyBatchSeconds,
		ApplyBatchEvents,
		EventLatencySeconds,
		HTTPRequestSeconds,
	)
	// Export each source's series at zero from the start.
	for _, s := range []string{SourceEvents, SourceSegment, SourceContacts} {
		EventsAccepted.WithLabelValues(s)
	}
}

// Handler serves Registry in the Prometheus exposition format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}
