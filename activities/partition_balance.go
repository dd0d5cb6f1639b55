package activities

import "github.com/leadflow/leadflow/store"

// The balance of partitions over the workers, as pure rules over the fleet's
// load (partitions per live worker, this one under self, from the locks
// PostgreSQL holds) and mine, the partitions this worker owns.

// leaveToOther reports whether a partition this worker could take should
// be left to a live worker that owns fewer (and how many it owns): the
// least loaded workers take partitions first.
func leaveToOther(load store.FleetLoad, self int32, mine int) (int, bool) {
	for pid, n := range load {
		if pid != self && n < mine {
			return n, true
		}
	}
	return 0, false
}

// handBackCount is how many partitions this worker hands back: none while
// some partition has no owner (the load is not what it will be) or while
// it owns fewer than two more than the least loaded other worker; else
// down to its fair share (ceil(partitions / workers)), at least one.
func handBackCount(load store.FleetLoad, self int32, mine, partitions int) int {
	least, owned := mine, 0
	for pid, n := range load {
		owned += n
		if pid != self {
			least = min(least, n)
		}
	}
	if mine < least+2 || owned < partitions {
		return 0
	}
	workers := max(len(load), 1)
	share := (partitions + workers - 1) / workers
	return min(max(1, mine-share), mine)
}
