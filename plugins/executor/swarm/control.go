package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/godocker/god/plugins/executor"
)

// Stop implements executor.Executor: SIGTERM to the task's container
// through the local engine when it runs on the manager's node (resumed
// first if paused: frozen, it could not act on it). A task elsewhere, or
// not started yet, is stopped through Swarm: the service is scaled to
// zero, and that node's engine sends SIGTERM, then SIGKILL after the
// job's kill timeout (the service's stop grace period). Swarm then
// deletes the task, and its exit code with it: unless read before, such a
// job ends as killed (137).
func (e *Executor) Stop(ctx context.Context, jobID int64) error {
	v, err := e.lookup(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := e.stateOf(ctx, v)
	if err != nil || !st.Running {
		return err
	}
	if e.local(v) {
		if st.Paused {
			if err := e.Unpause(ctx, jobID); err != nil {
				return err
			}
		}
		if sent, err := e.signal(ctx, v, "TERM"); sent || err != nil {
			return err
		}
	}
	return e.scaleDown(ctx, v)
}

// Kill implements executor.Executor: SIGKILL to the task's container
// through the local engine (paused or not: the engine thaws it for the
// signal); the service stays, so the exit code (137) stays readable until
// Remove. A task elsewhere, or not started yet, is scaled to zero: it
// never starts, and one on another node gets SIGKILL only after the job's
// kill timeout, as the agent reaches no other node's engine.
func (e *Executor) Kill(ctx context.Context, jobID int64) error {
	v, err := e.lookup(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := e.stateOf(ctx, v)
	if err != nil || !st.Running {
		return err
	}
	if e.local(v) {
		if sent, err := e.signal(ctx, v, "KILL"); sent || err != nil {
			return err
		}
	}
	return e.scaleDown(ctx, v)
}

// signal sends sig to the task's container on the local engine; false if
// the container does not run (not yet, or no more).
func (e *Executor) signal(ctx context.Context, v *view, sig string) (bool, error) {
	_, err := e.cli.ContainerKill(ctx, containerID(v.task), client.ContainerKillOptions{Signal: sig})
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err), cerrdefs.IsConflict(err): // conflict: not running
		return false, nil
	}
	return false, fmt.Errorf("sending SIG%s to the container of job %d: %w", sig, v.jobID, err)
}

// scaleDown sets the service to zero replicas: Swarm shuts its task down
// and never makes another, and the task stays listed with its end.
func (e *Executor) scaleDown(ctx context.Context, v *view) error {
	if scaledDown(&v.svc) {
		return nil
	}
	spec := v.svc.Spec
	spec.Mode.Replicated.Replicas = new(uint64(0))
	_, err := e.cli.ServiceUpdate(ctx, v.svc.ID, client.ServiceUpdateOptions{Version: v.svc.Version, Spec: spec})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case strings.Contains(err.Error(), "update out of sequence"):
		// Changed meanwhile (another stop): look again.
		nv, lerr := e.lookup(ctx, v.jobID)
		if errors.Is(lerr, executor.ErrNotFound) {
			return nil
		}
		if lerr != nil {
			return lerr
		}
		if scaledDown(&nv.svc) {
			return nil
		}
		return fmt.Errorf("stopping service %s: %w", v.svc.Spec.Name, err)
	}
	return fmt.Errorf("stopping service %s: %w", v.svc.Spec.Name, err)
}

// Pause implements executor.Executor: the task's container is frozen by
// the engine of its node, which the agent reaches only for the manager's
// own node. Elsewhere it is refused (ErrNotSupported, with the reason):
// Swarm itself cannot pause a task.
func (e *Executor) Pause(ctx context.Context, jobID int64) error {
	v, err := e.pausable(ctx, jobID)
	if err != nil || v == nil {
		return err
	}
	_, err = e.cli.ContainerPause(ctx, containerID(v.task), client.ContainerPauseOptions{})
	switch {
	case err == nil, err != nil && strings.Contains(err.Error(), "is already paused"):
		return nil
	case cerrdefs.IsNotFound(err):
		return executor.ErrNotFound
	}
	return fmt.Errorf("pausing the container of job %d: %w", jobID, err)
}

// Unpause implements executor.Executor.
func (e *Executor) Unpause(ctx context.Context, jobID int64) error {
	v, err := e.lookup(ctx, jobID)
	if err != nil {
		return err
	}
	if !e.local(v) {
		return nil // only a local container can have been paused
	}
	_, err = e.cli.ContainerUnpause(ctx, containerID(v.task), client.ContainerUnpauseOptions{})
	switch {
	case err == nil, strings.Contains(err.Error(), "is not paused"):
		// "not paused": a 409 on recent engines, a plain 500 on 20.10.
		return nil
	case cerrdefs.IsNotFound(err):
		return executor.ErrNotFound
	}
	return fmt.Errorf("unpausing the container of job %d: %w", jobID, err)
}

// pausable is the view of a running job whose container the local engine
// holds; an error says why it cannot be paused.
func (e *Executor) pausable(ctx context.Context, jobID int64) (*view, error) {
	v, err := e.lookup(ctx, jobID)
	if err != nil {
		return nil, err
	}
	st, err := e.stateOf(ctx, v)
	if err != nil {
		return nil, err
	}
	switch {
	case !st.Running:
		return nil, fmt.Errorf("job %d is not running: it cannot be paused", jobID)
	case v.task == nil || st.StartedAt.IsZero() && containerID(v.task) == "":
		return nil, fmt.Errorf("job %d has not started on a node yet: it cannot be paused", jobID)
	case !e.local(v):
		return nil, fmt.Errorf("job %d runs on Swarm node %s, and this agent reaches only the engine of node %s; Swarm cannot pause a task, so suspending it needs the engine of its node: %w", jobID, st.Node, e.nodeName, executor.ErrNotSupported)
	}
	return v, nil
}

// Remove implements executor.Executor: the service goes, and Swarm
// removes its task's container (killing it if it still runs).
func (e *Executor) Remove(ctx context.Context, jobID int64) error {
	v, err := e.lookup(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = e.cli.ServiceRemove(ctx, v.svc.ID, client.ServiceRemoveOptions{})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("removing service %s: %w", v.svc.Spec.Name, err)
}
