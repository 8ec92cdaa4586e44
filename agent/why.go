package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
)

// order returns the pending jobs in the order the scheduler policy would
// try them now.
func (a *Agent) order(ctx context.Context) ([]*job.Job, error) {
	a.mu.Lock()
	n := len(a.queue)
	a.mu.Unlock()
	snap := a.snapshot(time.Now(), n)
	prio := a.priorities(ctx)
	a.mu.Lock()
	byID := make(map[int64]*job.Job, len(a.queue))
	for _, j := range a.queue {
		if _, starting := a.reserved[j.ID]; starting {
			continue // being dispatched, as the scheduling pass leaves it out
		}
		byID[j.ID] = j
		snap.Pending = append(snap.Pending, compactJob(j))
	}
	if needsWindow(a.policy) {
		a.window.fill(snap, snap.Now)
	}
	a.mu.Unlock()
	prio.fill(snap.Pending)
	decisions, err := a.policy.Order(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("scheduler %s: %w", a.policy.Name(), err)
	}
	out := make([]*job.Job, 0, len(decisions))
	for _, d := range decisions {
		if j, ok := byID[d.JobID]; ok {
			out = append(out, j)
		}
	}
	return out, nil
}

// Why explains what keeps a job from starting, with numbers and a fix.
func (a *Agent) Why(ctx context.Context, caller *api.Caller, id int64) (*api.Explanation, error) {
	j, err := a.authorized(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	ex := &api.Explanation{JobID: id, State: j.Status.Primary}
	if !j.Pending() {
		msg := fmt.Sprintf("job %d is %s, not waiting to start", id, j.Status.Primary)
		if j.IsArray() && j.Running() {
			msg = fmt.Sprintf("job %d is an array: ask about its pending tasks (god job status %d)", id, id)
		}
		ex.Reasons = []api.Reason{{Kind: "not-pending", Message: msg}}
		return ex, nil
	}
	order, err := a.order(ctx)
	if err != nil {
		return nil, err
	}
	ex.Pending = len(order)
	ahead := 0 // jobs before it that may start before it: not held or waiting
	for i, o := range order {
		if o.User.UID == j.User.UID {
			ex.PositionMine++
		}
		if o.ID == id {
			ex.Position = i + 1
			break
		}
		if !o.Held && o.Status.Secondary != api.SecondaryWaiting {
			ahead++
		}
	}
	r, err := a.blocked(ctx, j, true)
	if err != nil {
		return nil, err
	}
	ex.Reasons = r
	if ahead > 0 {
		ex.Reasons = append(ex.Reasons, api.Reason{
			Kind:    "queue",
			Message: fmt.Sprintf("%d pending job(s) that could start come before it in the %s order; it is number %d of %d (number %d among its owner's)", ahead, a.policy.Name(), ex.Position, ex.Pending, ex.PositionMine),
			Fix:     "wait: jobs ahead start as room frees up",
		})
	}
	if len(ex.Reasons) == 0 {
		ex.Reasons = []api.Reason{{Kind: "queue", Message: "nothing blocks it: it starts at the next scheduling cycle"}}
	}
	if capacity, err := a.currentCapacity(ctx); err == nil {
		if t, ok := a.estimateStarts(ctx, order, capacity, time.Now())[id]; ok {
			ex.EstimatedStart = &t
		}
	}
	return ex, nil
}

// blocked lists what keeps a pending job from starting, most decisive
// first; with all it goes on past the first reason.
func (a *Agent) blocked(ctx context.Context, j *job.Job, all bool) ([]api.Reason, error) {
	var out []api.Reason
	add := func(r api.Reason) bool { out = append(out, r); return !all }
	if j.Held && add(api.Reason{Kind: "held", Message: j.Status.Reason, Fix: fmt.Sprintf("god job release %d", j.ID)}) {
		return out, nil
	}
	if len(j.Deps) > 0 {
		ready, never, waiting, err := a.depState(ctx, j)
		if err != nil {
			return nil, err
		}
		switch {
		case never != "":
			if add(api.Reason{Kind: "dependency", Message: never, Fix: fmt.Sprintf("it will not run: stop it (god job stop %d) and submit it without that dependency", j.ID)}) {
				return out, nil
			}
		case !ready:
			if add(api.Reason{Kind: "dependency", Message: waiting, Fix: "wait for those jobs to end (god job status shows them)"}) {
				return out, nil
			}
		}
	}
	capacity, err := a.currentCapacity(ctx)
	if err != nil {
		return nil, err
	}
	pq := a.projectQuotas(ctx)
	a.mu.Lock()
	quota, windowed := a.quotaReasonLocked(j, pq, time.Now())
	until, backingOff := a.backoff[j.ID]
	active := a.arrayActive[j.ParentID]
	used := a.used
	running := len(a.reserved)
	a.mu.Unlock()
	if backingOff && time.Now().Before(until) && add(api.Reason{Kind: "retry", Message: fmt.Sprintf("its last run or start failed (%s); next try at %s", j.Status.Reason, until.Format(time.TimeOnly)), Fix: "if the reason names your job (image, volume), stop it and fix the spec"}) {
		return out, nil
	}
	fix := "wait for your running jobs to end, or stop some (god job status -state running)"
	if windowed {
		fix = "wait for past usage to leave the quota window, or ask an admin for a larger quota"
	}
	if quota != "" && add(api.Reason{Kind: "quota", Message: quota, Fix: fix}) {
		return out, nil
	}
	if j.ParentID != 0 {
		if p, err := a.store.Get(ctx, j.ParentID); err == nil && p.Array != nil && p.Array.Throttle > 0 && active >= p.Array.Throttle {
			if add(api.Reason{Kind: "throttle", Message: fmt.Sprintf("array %d already runs %d task(s), its throttle", j.ParentID, active), Fix: fmt.Sprintf("god job update -throttle %d %d", p.Array.Throttle*2, j.ParentID)}) {
				return out, nil
			}
		}
	}
	freeCPU, freeMem, freeGPUs := capacity.CPU-used.CPU, capacity.Memory-used.Memory, capacity.GPUs-used.GPUs
	if j.CPU > freeCPU+1e-9 || j.Memory > freeMem || j.GPU > freeGPUs {
		msg := fmt.Sprintf("it needs %g cpu and %s; %g cpu and %s are free of %g cpu and %s (%d job(s) running or starting)",
			j.CPU, api.FormatSize(j.Memory), max(freeCPU, 0), api.FormatSize(max(freeMem, 0)), capacity.CPU, api.FormatSize(capacity.Memory), running)
		if j.GPU > 0 {
			msg = fmt.Sprintf("it needs %g cpu, %s and %d GPU(s); %g cpu, %s and %d GPU(s) are free of %g cpu, %s and %d GPU(s) (%d job(s) running or starting)",
				j.CPU, api.FormatSize(j.Memory), j.GPU, max(freeCPU, 0), api.FormatSize(max(freeMem, 0)), max(freeGPUs, 0), capacity.CPU, api.FormatSize(capacity.Memory), capacity.GPUs, running)
		}
		add(api.Reason{Kind: "capacity", Message: msg, Fix: "wait for running jobs to end, or ask for fewer resources"})
	}
	return out, nil
}

// Queue lists the pending jobs the caller may see, in the scheduler's
// order, each with its position among all pending jobs and what blocks it.
func (a *Agent) Queue(ctx context.Context, caller *api.Caller) ([]*api.QueueEntry, error) {
	order, err := a.order(ctx)
	if err != nil {
		return nil, err
	}
	var starts map[int64]time.Time
	if capacity, err := a.currentCapacity(ctx); err == nil {
		starts = a.estimateStarts(ctx, order, capacity, time.Now())
	}
	out := []*api.QueueEntry{}
	for i, j := range order {
		if !owns(caller, j) && !caller.Admin {
			continue
		}
		e := &api.QueueEntry{Position: i + 1, Job: j.API()}
		if t, ok := starts[j.ID]; ok {
			e.EstimatedStart = &t
		}
		if r, err := a.blocked(ctx, j, false); err == nil && len(r) > 0 {
			e.Blocked = &r[0]
		}
		out = append(out, e)
	}
	return out, nil
}
