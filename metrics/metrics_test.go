package metrics_test

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/metrics"
)

func TestHandlerExposesEveryCollector(t *testing.T) {
	t.Parallel()
	metrics.FlowStepsExecuted.WithLabelValues("wait").Inc()
	metrics.ScoreChanges.WithLabelValues("main").Inc()
	metrics.DeliveriesTotal.WithLabelValues("delivered").Inc()
	metrics.HTTPRequestSeconds.WithLabelValues("GET /healthz", "200").Observe(0.01)
	metrics.EventsApplied.Add(3)
	metrics.CRMTasksCreated.Inc()
	metrics.ApplyBatchSeconds.Observe(0.02)
	metrics.ApplyBatchEvents.Observe(100)
	metrics.EventLatencySeconds.Observe(0.5)

	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code)
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	for _, name := range []string{
		`leadflow_events_accepted_total{source="events"}`,
		`leadflow_events_accepted_total{source="segment"}`,
		`leadflow_events_accepted_total{source="contacts"}`,
		"leadflow_events_applied_total",
		`leadflow_flow_steps_executed_total{type="wait"}`,
		`leadflow_score_changes_total{model="main"}`,
		"leadflow_crm_tasks_created_total",
		`leadflow_deliveries_total{result="delivered"}`,
		"leadflow_apply_batch_seconds_bucket",
		"leadflow_apply_batch_events_bucket",
		"leadflow_event_latency_seconds_bucket",
		`leadflow_http_request_seconds_bucket{code="200",route="GET /healthz"`,
		"go_goroutines",
		"process_",
	} {
		require.Contains(t, string(body), name)
	}
}
