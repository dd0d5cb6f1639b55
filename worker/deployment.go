package worker

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// identityPrefix starts the Temporal identity of every leadflow worker.
const identityPrefix = "leadflow"

// Identity is the identity a leadflow worker of the given deployment
// presents to Temporal, "leadflow:<pid>@<host>/<deployment>": the Temporal
// UI and DescribeTaskQueue show which deployment each poller serves, and
// CheckTaskQueue reads it back.
func Identity(deployment string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s:%d@%s/%s", identityPrefix, os.Getpid(), host, deployment)
}

// DeploymentOfIdentity is the deployment named by a worker identity made by
// Identity, or "" when the identity does not name one (another program, or a
// leadflow worker from before deployments had an identity).
func DeploymentOfIdentity(identity string) string {
	if !strings.HasPrefix(identity, identityPrefix) {
		return ""
	}
	i := strings.LastIndexByte(identity, '/')
	if i < 0 || !strings.HasPrefix(identity[i+1:], "dep_") {
		return ""
	}
	return identity[i+1:]
}

// ForeignPollersError says that a task queue is served by workers of another
// deployment.
type ForeignPollersError struct {
	Namespace  string
	TaskQueue  string
	Deployment string   // this worker's
	Foreign    []string // the other deployments, sorted
	Pollers    []string // their pollers: identity and when last seen
}

func (e *ForeignPollersError) Error() string {
	return fmt.Sprintf("task queue %q in Temporal namespace %q is served by workers of another leadflow deployment (%s; pollers: %s), "+
		"and this worker serves deployment %s: two deployments must not share a task queue, or each would run the other's "+
		"partitions, flow runs and deliveries against the wrong database. Give this one its own task queue (LEADFLOW_TASK_QUEUE) "+
		"or namespace (TEMPORAL_NAMESPACE). If the other deployment is gone for good, Temporal forgets its pollers 5 minutes after they stop",
		e.TaskQueue, e.Namespace, strings.Join(e.Foreign, ", "), strings.Join(e.Pollers, "; "), e.Deployment)
}

// CheckTaskQueue returns a *ForeignPollersError when Temporal reports
// pollers of the task queue (workflow or activity, seen within the last few
// minutes) whose identity names a deployment other than this one. Pollers
// whose identity names no deployment are not counted: Temporal cannot tell
// whose they are. They are returned, for a warning.
func CheckTaskQueue(ctx context.Context, c client.Client, namespace, taskQueue, deployment string) (unknown []string, err error) {
	foreign := map[string]bool{}
	var pollers []string
	seen := map[string]bool{}
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := c.DescribeTaskQueue(ctx, taskQueue, typ)
		if err != nil {
			return nil, fmt.Errorf("error describing task queue %q in namespace %q: %w", taskQueue, namespace, err)
		}
		for _, p := range resp.GetPollers() {
			id := p.GetIdentity()
			if seen[id] {
				continue
			}
			seen[id] = true
			switch dep := DeploymentOfIdentity(id); {
			case dep == "":
				unknown = append(unknown, id)
			case dep != deployment:
				foreign[dep] = true
				last := ""
				if t := p.GetLastAccessTime(); t != nil {
					last = fmt.Sprintf(" (last seen %s ago)", time.Since(t.AsTime()).Round(time.Second))
				}
				pollers = append(pollers, id+last)
			}
		}
	}
	sort.Strings(unknown)
	if len(foreign) == 0 {
		return unknown, nil
	}
	e := &ForeignPollersError{Namespace: namespace, TaskQueue: taskQueue, Deployment: deployment, Pollers: pollers}
	for d := range foreign {
		e.Foreign = append(e.Foreign, d)
	}
	sort.Strings(e.Foreign)
	sort.Strings(e.Pollers)
	return unknown, e
}
