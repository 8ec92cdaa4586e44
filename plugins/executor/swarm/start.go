package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/godocker/god/plugins/executor"
)

// Start implements executor.Executor. It creates the job's service unless
// the store already has one (then its state is returned: never two runs),
// and waits, up to StartTimeout, until Swarm runs the task or refuses it.
// A task that could not start (no node has the image, a mount refused)
// never will: its service is removed and the error is permanent.
func (e *Executor) Start(ctx context.Context, t *executor.Task) (*executor.State, error) {
	defer e.starting.Lock(t.JobID)()
	v, err := e.lookup(ctx, t.JobID)
	switch {
	case err == nil:
		st, err := e.stateOf(ctx, v)
		if err == nil && !st.OwnedBy(t.Owner, t.UID) {
			return nil, fmt.Errorf("Swarm has a service %s for job %d that belongs to uid %d, not to the job's owner (uid %d): GoDocker leaves it alone; remove it (docker service rm %s) if it is stale", st.Name, t.JobID, st.Owner, t.Owner, st.Name)
		}
		return st, err
	case !errors.Is(err, executor.ErrNotFound):
		return nil, err
	}
	if err := e.placeable(ctx, t); err != nil {
		return nil, err
	}
	_, err = e.cli.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: e.serviceSpec(t)})
	switch {
	case cerrdefs.IsConflict(err) || err != nil && cerrdefs.IsAlreadyExists(err):
		// Another start raced us to the name: Swarm kept one service.
		return e.Inspect(ctx, t.JobID)
	case cerrdefs.IsInvalidArgument(err):
		return nil, executor.Permanent(fmt.Errorf("Swarm refused the service: %w", err))
	case err != nil:
		return nil, fmt.Errorf("creating service %s: %w", e.serviceName(t.JobID), err)
	}
	return e.awaitStart(ctx, t.JobID)
}

// placeable refuses, as permanent, a job that must avoid every node that
// could run it.
func (e *Executor) placeable(ctx context.Context, t *executor.Task) error {
	if len(t.AvoidNodes) == 0 {
		return nil
	}
	nodes, err := e.eligibleNodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if !slices.Contains(t.AvoidNodes, n.Description.Hostname) {
			return nil
		}
	}
	return executor.Permanent(fmt.Errorf("the job must avoid nodes %v, where it failed before, and Swarm has no other available node", t.AvoidNodes))
}

// awaitStart polls the new service's task until it runs or ends, or
// StartTimeout passes (a long image pull: it counts as running), with a
// short first interval, as most tasks start within a second.
func (e *Executor) awaitStart(ctx context.Context, jobID int64) (*executor.State, error) {
	deadline := time.Now().Add(e.cfg.StartTimeout)
	wait := 20 * time.Millisecond
	for {
		v, err := e.lookup(ctx, jobID)
		if err != nil {
			return nil, err
		}
		st, err := e.stateOf(ctx, v)
		if err != nil {
			return nil, err
		}
		switch {
		case !st.Running && st.Error != "" && neverRan(v.task):
			// Removed so that a later Start of the job (a rerun) can
			// make it anew.
			if _, rerr := e.cli.ServiceRemove(context.WithoutCancel(ctx), v.svc.ID, client.ServiceRemoveOptions{}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
				return nil, fmt.Errorf("%s; removing its service: %w", st.Error, rerr)
			}
			return nil, executor.Permanent(errors.New(st.Error))
		case !st.Running, !st.StartedAt.IsZero(), time.Now().After(deadline), waitingForNode(v.task):
			return st, nil
		}
		select {
		case <-ctx.Done():
			// Cut short (the agent stopping): the service stays, and the
			// next Start returns its state.
			return nil, fmt.Errorf("waiting for Swarm to start service %s: %w", v.svc.Spec.Name, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// neverRan reports a task that ended before its container started.
func neverRan(t *swarm.Task) bool {
	return t != nil && containerID(t) == ""
}

// waitingForNode reports a task that no node can take now (resources,
// constraints): it waits for one, as a job waits in a queue.
func waitingForNode(t *swarm.Task) bool {
	return t != nil && t.Status.State == swarm.TaskStatePending && t.Status.Err != ""
}
