package activities

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
)

func TestLeaveToOther(t *testing.T) {
	const self = 1
	for _, tc := range []struct {
		name  string
		load  store.FleetLoad
		mine  int
		leave bool
	}{
		{"alone", store.FleetLoad{self: 5}, 5, false},
		{"everyone at zero takes", store.FleetLoad{self: 0, 2: 0}, 0, false},
		{"ties take", store.FleetLoad{self: 3, 2: 3, 3: 3}, 3, false},
		{"a worker with fewer is left it", store.FleetLoad{self: 4, 2: 3}, 4, true},
		{"a new worker with none is left it", store.FleetLoad{self: 1, 2: 0}, 1, true},
		{"more loaded others do not matter", store.FleetLoad{self: 2, 2: 9}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, leave := leaveToOther(tc.load, self, tc.mine)
			require.Equal(t, tc.leave, leave)
		})
	}
}

func TestHandBackCount(t *testing.T) {
	const self = 1
	for _, tc := range []struct {
		name string
		load store.FleetLoad
		mine int
		want int
	}{
		{"alone keeps everything", store.FleetLoad{self: 16}, 16, 0},
		{"balanced", store.FleetLoad{self: 8, 2: 8}, 8, 0},
		{"one apart is balanced enough", store.FleetLoad{self: 6, 2: 5, 3: 5}, 6, 0},
		{"a second worker joins: down to the share", store.FleetLoad{self: 16, 2: 0}, 16, 8},
		{"two workers join: down to ceil(16/3)", store.FleetLoad{self: 16, 2: 0, 3: 0}, 16, 10},
		{"two apart: at least one", store.FleetLoad{self: 6, 2: 6, 3: 4}, 6, 1},
		{"partitions on their way: wait", store.FleetLoad{self: 12, 2: 0}, 12, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, handBackCount(tc.load, self, tc.mine, store.Partitions))
		})
	}
}

func TestBackoff(t *testing.T) {
	require.Equal(t, ownerTransientBackoff, backoff(ownerTransientBackoff, ownerTransientMaxBackoff, 1))
	require.Equal(t, 2*ownerTransientBackoff, backoff(ownerTransientBackoff, ownerTransientMaxBackoff, 2))
	require.Equal(t, ownerTransientMaxBackoff, backoff(ownerTransientBackoff, ownerTransientMaxBackoff, 50))
}
