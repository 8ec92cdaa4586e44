package swarm

import (
	"context"
	"fmt"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/godocker/god/plugins/executor"
)

// view is what Swarm knows of one job: its service and the newest task.
type view struct {
	jobID int64
	svc   swarm.Service
	task  *swarm.Task // nil before Swarm made one
}

// local reports whether the task's container is on the manager's node,
// whose engine the executor reaches.
func (e *Executor) local(v *view) bool {
	return v.task != nil && v.task.NodeID == e.nodeID && containerID(v.task) != ""
}

func containerID(t *swarm.Task) string {
	if t.Status.ContainerStatus == nil {
		return ""
	}
	return t.Status.ContainerStatus.ContainerID
}

// lookup finds the store's service of job jobID and its newest task.
func (e *Executor) lookup(ctx context.Context, jobID int64) (*view, error) {
	name := e.serviceName(jobID)
	res, err := e.cli.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, executor.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("inspecting service of job %d: %w", jobID, err)
	}
	// Swarm also matches ids by prefix: make sure it is the service of
	// that name, and this store's.
	if res.Service.Spec.Name != name {
		return nil, executor.ErrNotFound
	}
	if !e.ours(res.Service.Spec.Labels, jobID) {
		return nil, fmt.Errorf("service %s exists but was not created by GoDocker instance %q for job %d of store %s", name, e.cfg.Instance, jobID, e.cfg.StoreID)
	}
	tasks, err := e.cli.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", res.Service.ID)})
	if err != nil {
		return nil, fmt.Errorf("listing tasks of service %s: %w", name, err)
	}
	v := &view{jobID: jobID, svc: res.Service}
	v.task = newest(tasks.Items, res.Service.ID)
	return v, nil
}

// newest is the most recently created task of the service, nil if none.
func newest(tasks []swarm.Task, serviceID string) *swarm.Task {
	var n *swarm.Task
	for i := range tasks {
		t := &tasks[i]
		if t.ServiceID == serviceID && (n == nil || t.CreatedAt.After(n.CreatedAt)) {
			n = t
		}
	}
	return n
}

// Inspect implements executor.Executor.
func (e *Executor) Inspect(ctx context.Context, jobID int64) (*executor.State, error) {
	v, err := e.lookup(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return e.stateOf(ctx, v)
}

// List implements executor.Executor: the services of this store's jobs,
// in two requests whatever their number. Another store's services of the
// same instance are left out (and reported once).
func (e *Executor) List(ctx context.Context) ([]*executor.State, error) {
	byInstance := client.Filters{}.Add("label", LabelInstance+"="+e.cfg.Instance)
	svcs, err := e.cli.ServiceList(ctx, client.ServiceListOptions{Filters: byInstance})
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	// Tasks carry their service's labels: one list for every job.
	tasks, err := e.cli.TaskList(ctx, client.TaskListOptions{Filters: byInstance})
	if err != nil {
		return nil, fmt.Errorf("listing tasks: %w", err)
	}
	byService := map[string][]swarm.Task{}
	for _, t := range tasks.Items {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	out := make([]*executor.State, 0, len(svcs.Items))
	for _, s := range svcs.Items {
		id, err := strconv.ParseInt(s.Spec.Labels[LabelJobID], 10, 64)
		if err != nil {
			continue
		}
		if !e.ours(s.Spec.Labels, id) {
			e.reportForeign(&s)
			continue
		}
		if s.Spec.Name != e.serviceName(id) {
			continue // labelled as the store's by someone else
		}
		st, err := e.stateOf(ctx, &view{jobID: id, svc: s, task: newest(byService[s.ID], s.ID)})
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// stateOf maps what Swarm knows of a job to the executor's state. From the
// agent's side a job is running until its task ends: waiting for a node,
// pulling its image and running all count. When the task's container is
// on the manager's node, its engine's record is the more exact one (the
// pause, an OOM kill, precise times, an end the task status has not
// caught up with).
func (e *Executor) stateOf(ctx context.Context, v *view) (*executor.State, error) {
	s := &v.svc
	st := &executor.State{JobID: v.jobID, ID: s.ID, Name: s.Spec.Name, Owner: -2, Links: map[string]string{LinkService: s.Spec.Name}}
	// Without a valid owner label the service is nobody's: -2 matches no
	// uid, and is not OwnerUnknown.
	if n, err := strconv.Atoi(s.Spec.Labels[LabelOwner]); err == nil {
		st.Owner = n
	}
	t := v.task
	if t == nil {
		if scaledDown(s) {
			// Stopped before Swarm made its task: no exit code; report a
			// kill's (128+9), not a success.
			st.ExitCode, st.FinishedAt = 137, s.UpdatedAt
			return st, nil
		}
		st.Running = true
		return st, nil
	}
	st.Links[LinkTask] = t.ID
	st.Node = e.hostname(ctx, t.NodeID)
	if e.local(v) {
		ok, err := e.fromContainer(ctx, v, st)
		if err != nil || ok {
			return st, err
		}
	}
	code := 0
	ran := containerID(t) != ""
	if t.Status.ContainerStatus != nil {
		code = t.Status.ContainerStatus.ExitCode
	}
	switch t.Status.State {
	case swarm.TaskStateRunning:
		st.Running, st.StartedAt = true, t.Status.Timestamp
	case swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateShutdown:
		st.FinishedAt, st.ExitCode = t.Status.Timestamp, code
		switch {
		case !ran && t.Status.State == swarm.TaskStateShutdown:
			st.ExitCode = 137 // stopped before it ran
		case !ran:
			st.Error = fmt.Sprintf("the task could not start on node %s: %s", st.Node, orDefault(t.Status.Err, t.Status.Message))
		}
	case swarm.TaskStateRejected:
		st.FinishedAt = t.Status.Timestamp
		st.Error = fmt.Sprintf("Swarm refused the task on node %s: %s", orDefault(st.Node, "(none)"), orDefault(t.Status.Err, t.Status.Message))
	case swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		st.FinishedAt = t.Status.Timestamp
		st.Error = fmt.Sprintf("Swarm lost node %s while the job ran there (task %s); its exit code is unknown", st.Node, t.Status.State)
	default:
		// new, pending (no node fits yet), assigned, accepted, preparing
		// (pulling the image), ready, starting.
		st.Running = true
	}
	return st, nil
}

// fromContainer fills st from the task's container on the local engine;
// false when the engine does not have it, so the task status is all there
// is.
func (e *Executor) fromContainer(ctx context.Context, v *view, st *executor.State) (bool, error) {
	res, err := e.cli.ContainerInspect(ctx, containerID(v.task), client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		// Swarm removes a task's container only with its service: this
		// one was removed behind GoDocker's back, and the removal's kill
		// is not the job's end.
		st.Removing = true
		st.FinishedAt = v.task.Status.Timestamp
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspecting the container of job %d: %w", v.jobID, err)
	}
	c := res.Container
	if c.State == nil || c.Config == nil || c.Config.Labels[LabelJobID] != strconv.FormatInt(v.jobID, 10) {
		return false, nil
	}
	st.Running = c.State.Running
	st.Paused = c.State.Paused
	st.ExitCode = c.State.ExitCode
	st.OOMKilled = c.State.OOMKilled
	st.Error = c.State.Error
	st.Removing = c.State.Status == "removing" || c.State.Dead
	st.StartedAt = parseTime(c.State.StartedAt)
	st.FinishedAt = parseTime(c.State.FinishedAt)
	if !st.Running && st.StartedAt.IsZero() {
		return false, nil // created, not started yet: the task status tells
	}
	return true, nil
}

// scaledDown reports a service stopped through Swarm (Stop or Kill of a
// task the executor could not signal itself).
func scaledDown(s *swarm.Service) bool {
	r := s.Spec.Mode.Replicated
	return r != nil && r.Replicas != nil && *r.Replicas == 0
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 { // the engine says 0001-01-01 for "never"
		return time.Time{}
	}
	return t
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
