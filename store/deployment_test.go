package store_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

func TestDeploymentIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := storetest.NewDatabase(t)
	s, err := store.Open(ctx, dbURL, false)
	require.NoError(t, err)
	defer s.Close()

	d, err := s.Deployment(ctx)
	require.NoError(t, err)
	require.Regexp(t, `^dep_[0-9a-f]{16}$`, d.ID)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	require.Equal(t, strings.TrimPrefix(u.Path, "/"), d.Database)
	require.False(t, d.CreatedAt.IsZero())

	// Migrating again keeps it; a second row is refused.
	_, err = s.Migrate(ctx)
	require.NoError(t, err)
	again, err := s.Deployment(ctx)
	require.NoError(t, err)
	require.Equal(t, d, again)
	_, err = s.Pool.Exec(ctx, `INSERT INTO deployment (id, database_name) VALUES ('dep_other', 'x')`)
	require.Error(t, err)

	// Another database is another deployment.
	other := storetest.NewStore(t)
	od, err := other.Deployment(ctx)
	require.NoError(t, err)
	require.NotEqual(t, d.ID, od.ID)

	// Every outbox row's payload names the deployment, unless it names one.
	_, err = s.Pool.Exec(ctx, `INSERT INTO outbox (partition, kind, workflow_id, payload) VALUES
		(3, 'deliver', 'delivery-1', '{"delivery_id": 1}'),
		(3, 'start_run', 'run/x', '{"run_id": "x", "deployment": "dep_given"}')`)
	require.NoError(t, err)
	items, err := s.PendingOutbox(ctx, 3, 10)
	require.NoError(t, err)
	require.Len(t, items, 2)
	var p struct {
		DeliveryID int64  `json:"delivery_id"`
		Deployment string `json:"deployment"`
	}
	require.NoError(t, json.Unmarshal(items[0].Payload, &p))
	require.Equal(t, int64(1), p.DeliveryID)
	require.Equal(t, d.ID, p.Deployment)
	require.JSONEq(t, `{"run_id": "x", "deployment": "dep_given"}`, string(items[1].Payload))
}

func TestDeploymentOfUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.NewStore(t)
	_, err := s.Pool.Exec(ctx, `DROP TABLE deployment CASCADE`)
	require.NoError(t, err)
	_, err = s.Deployment(ctx)
	require.ErrorIs(t, err, store.ErrNoDeployment)
}
