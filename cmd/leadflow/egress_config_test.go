package main

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/egress"
)

func TestHelpNamesTheDeliverySettings(t *testing.T) {
	var out bytes.Buffer
	require.Equal(t, 0, run([]string{"--help"}, &out, io.Discard))
	for _, name := range []string{"LEADFLOW_WEBHOOK_ALLOW", "LEADFLOW_WEBHOOK_SECRET", "LEADFLOW_DELIVERY_RETRY_FOR"} {
		require.Contains(t, out.String(), name)
	}

	t.Setenv("CRM_WEBHOOK_URL", "https://crm.example.com/tasks?token=s3cret")
	var help bytes.Buffer
	fs := newFlagSet("worker", "Run a worker.", &help)
	var c config
	c.bindWorker(fs)
	require.ErrorIs(t, fs.Parse([]string{"--help"}), flag.ErrHelp)
	for _, s := range []string{"-webhook-allow", "-delivery-retry-for", "LEADFLOW_WEBHOOK_ALLOW", "LEADFLOW_WEBHOOK_SECRET", "LEADFLOW_DELIVERY_RETRY_FOR", "token=REDACTED"} {
		require.Contains(t, help.String(), s)
	}
	require.NotContains(t, help.String(), "s3cret")
	require.Equal(t, "https://crm.example.com/tasks?token=s3cret", c.CRMWebhookURL)
}

func TestDeliverySettings(t *testing.T) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer rcv.Close()

	bind := func(args ...string) *config {
		var c config
		fs := newFlagSet("worker", "", io.Discard)
		c.bindWorker(fs)
		require.NoError(t, fs.Parse(args))
		return &c
	}
	// Defaults: public addresses only, 72h, unsigned.
	c := bind()
	hc, opts, err := c.deliveries(zerolog.Nop())
	require.NoError(t, err)
	require.Equal(t, 72*time.Hour, opts.RetryFor)
	require.False(t, opts.Signer.Enabled())
	_, err = hc.Post(rcv.URL, "application/json", nil)
	require.NotNil(t, egress.Refused(err), "loopback refused by default: %v", err)

	// The environment opens loopback, signs and bounds.
	t.Setenv("LEADFLOW_WEBHOOK_ALLOW", "127.0.0.0/8, crm.internal")
	t.Setenv("LEADFLOW_WEBHOOK_SECRET", egress.NewSecret())
	t.Setenv("LEADFLOW_DELIVERY_RETRY_FOR", "90s")
	c = bind()
	hc, opts, err = c.deliveries(zerolog.Nop())
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, opts.RetryFor)
	require.True(t, opts.Signer.Enabled())
	resp, err := hc.Post(rcv.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()

	// dev adds loopback to whatever the operator allows.
	t.Setenv("LEADFLOW_WEBHOOK_ALLOW", "")
	c = bind()
	c.DevLoopback = true
	hc, _, err = c.deliveries(zerolog.Nop())
	require.NoError(t, err)
	resp, err = hc.Post(rcv.URL, "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()

	// Mistakes are refused with the setting's name.
	for env, want := range map[string]string{
		"LEADFLOW_WEBHOOK_ALLOW":      "LEADFLOW_WEBHOOK_ALLOW: allow-list entry \"10.0.0.0/99\"",
		"LEADFLOW_WEBHOOK_SECRET":     "LEADFLOW_WEBHOOK_SECRET: webhook secret must start with \"whsec_\"",
		"LEADFLOW_DELIVERY_RETRY_FOR": "LEADFLOW_DELIVERY_RETRY_FOR=\"3 days\" is not a duration",
	} {
		t.Run(env, func(t *testing.T) {
			t.Setenv("LEADFLOW_WEBHOOK_SECRET", "")
			t.Setenv(env, map[string]string{"LEADFLOW_WEBHOOK_ALLOW": "10.0.0.0/99", "LEADFLOW_WEBHOOK_SECRET": "hunter2", "LEADFLOW_DELIVERY_RETRY_FOR": "3 days"}[env])
			_, _, err := bind().deliveries(zerolog.Nop())
			require.ErrorContains(t, err, want)
		})
	}
}

func TestDevKeepsAWebhookSecret(t *testing.T) {
	t.Setenv("LEADFLOW_WEBHOOK_SECRET", "")
	dir := t.TempDir()
	var c config
	require.NoError(t, devKeys(&c, dir))
	_, err := egress.ParseSecrets(c.WebhookSecret)
	require.NoError(t, err)
	require.NotEmpty(t, c.WebhookSecret)
	b, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	require.NoError(t, err)
	require.Contains(t, string(b), c.WebhookSecret)

	var again config
	require.NoError(t, devKeys(&again, dir))
	require.Equal(t, c.WebhookSecret, again.WebhookSecret, "a restart keeps the secret")
}
