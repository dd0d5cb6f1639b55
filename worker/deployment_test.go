package worker

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIdentityNamesTheDeployment(t *testing.T) {
	id := Identity("dep_0123456789abcdef")
	require.True(t, strings.HasPrefix(id, "leadflow:"), id)
	require.True(t, strings.HasSuffix(id, "/dep_0123456789abcdef"), id)
	require.Equal(t, "dep_0123456789abcdef", DeploymentOfIdentity(id))

	for _, other := range []string{"", "1234@host@", "leadflow:1@host", "leadflow:1@host/", "leadflow:1@host/x", "tctl/dep_1"} {
		require.Empty(t, DeploymentOfIdentity(other), other)
	}
}
