package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/jobspec"
	"github.com/godocker/god/plugins/executor"
)

// Hold keeps a pending job (or every pending task of an array) from
// starting until it is released.
func (a *Agent) Hold(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error) {
	return a.setHeld(ctx, caller, id, true)
}

// Release lets a held job start.
func (a *Agent) Release(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error) {
	return a.setHeld(ctx, caller, id, false)
}

func (a *Agent) setHeld(ctx context.Context, caller *api.Caller, id int64, held bool) (*api.Job, error) {
	j, err := a.authorized(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	ids := []int64{id}
	if j.IsArray() {
		if ids, err = a.pendingTasks(ctx, id); err != nil {
			return nil, err
		}
	} else if !j.Pending() {
		verb := "held"
		if !held {
			verb = "released"
		}
		return nil, errorf(http.StatusConflict, "job %d is %s: only pending jobs can be %s", id, j.Status.Primary, verb)
	}
	for _, tid := range ids {
		_, _, err := a.mutate(ctx, tid, func(j *job.Job) bool {
			if !j.Pending() || j.Held == held {
				return false
			}
			j.Held = held
			if held {
				j.HeldBy = caller.Name
				j.Status.Secondary, j.Status.Reason = api.SecondaryHeld, "held by "+caller.Name
			} else {
				j.HeldBy = ""
				j.Status.Secondary, j.Status.Reason = "", ""
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	a.Wake()
	if j, err = a.store.Get(ctx, id); err != nil {
		return nil, err
	}
	return a.view(ctx, j)
}

func (a *Agent) pendingTasks(ctx context.Context, parentID int64) ([]int64, error) {
	tasks, err := a.tasks(ctx, parentID, api.StatePending)
	ids := make([]int64, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	return ids, err
}

// Suspend freezes every process of a running job (the engine's pause);
// its time still counts toward its lifespan. An array suspends its
// running tasks.
func (a *Agent) Suspend(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error) {
	return a.setSuspended(ctx, caller, id, true)
}

// Resume continues a suspended job.
func (a *Agent) Resume(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error) {
	return a.setSuspended(ctx, caller, id, false)
}

func (a *Agent) setSuspended(ctx context.Context, caller *api.Caller, id int64, suspend bool) (*api.Job, error) {
	j, err := a.authorized(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if !executor.Has(a.exec.Capabilities(), executor.CapPause) {
		return nil, errorf(http.StatusNotImplemented, "the %s executor cannot suspend or resume jobs", a.exec.Name())
	}
	verb := map[bool]string{true: "suspended", false: "resumed"}[suspend]
	if !j.Running() {
		return nil, errorf(http.StatusConflict, "job %d is %s: only running jobs can be %s", id, j.Status.Primary, verb)
	}
	ids := []int64{id}
	if j.IsArray() {
		tasks, err := a.tasks(ctx, id, api.StateRunning)
		if err != nil {
			return nil, err
		}
		ids = ids[:0]
		for _, t := range tasks {
			ids = append(ids, t.ID)
		}
	} else if j.KillRequested {
		return nil, errorf(http.StatusConflict, "job %d is being stopped", id)
	}
	for _, tid := range ids {
		var engineErr error
		if suspend {
			engineErr = a.exec.Pause(ctx, tid)
		} else {
			engineErr = a.exec.Unpause(ctx, tid)
		}
		if errors.Is(engineErr, executor.ErrNotFound) {
			continue // ended meanwhile
		}
		if errors.Is(engineErr, executor.ErrNotSupported) {
			// The executor can in general, not for this job (a Swarm task
			// on a node whose engine the agent does not reach): say why.
			return nil, errorf(http.StatusNotImplemented, "job %d cannot be %s: %v", tid, verb, engineErr)
		}
		if engineErr != nil {
			return nil, fmt.Errorf("%s job %d: %w", map[bool]string{true: "suspending", false: "resuming"}[suspend], tid, engineErr)
		}
		_, _, err := a.mutate(ctx, tid, func(j *job.Job) bool {
			if !j.Running() || j.KillRequested || (j.Status.Secondary == api.SecondarySuspended) == suspend {
				return false
			}
			if suspend {
				j.Status.Secondary, j.Status.Reason = api.SecondarySuspended, verb+" by "+caller.Name
			} else {
				j.Status.Secondary, j.Status.Reason = "", ""
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	if j, err = a.store.Get(ctx, id); err != nil {
		return nil, err
	}
	return a.view(ctx, j)
}

// Update changes the updatable fields of a pending or running job: its
// lifespan, and an array's throttle.
func (a *Agent) Update(ctx context.Context, caller *api.Caller, id int64, u *api.JobUpdate) (*api.Job, error) {
	j, err := a.authorized(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if j.Over() {
		return nil, errorf(http.StatusConflict, "job %d is over: it can no longer change", id)
	}
	var lifespan time.Duration
	var fe []api.FieldError
	for _, f := range []struct {
		name string
		set  bool
	}{{"max_lifespan", u.MaxLifespan != nil}, {"throttle", u.Throttle != nil}} {
		if f.set && !slices.Contains(a.cfg.UpdatableFields, f.name) {
			fe = append(fe, api.FieldError{Field: f.name, Message: fmt.Sprintf("%s cannot be changed on this site (agent config updatable_fields); submit the job again instead", f.name)})
		}
	}
	if u.MaxLifespan != nil {
		if lifespan, err = jobspec.ParseLifespan(*u.MaxLifespan); err != nil {
			fe = append(fe, api.FieldError{Field: "max_lifespan", Message: err.Error()})
		}
	}
	if u.Throttle != nil {
		switch {
		case !j.IsArray():
			fe = append(fe, api.FieldError{Field: "throttle", Message: fmt.Sprintf("job %d is not an array; throttle only applies to arrays", id)})
		case *u.Throttle < 0 || *u.Throttle > jobspec.MaxArrayTasks:
			fe = append(fe, api.FieldError{Field: "throttle", Message: fmt.Sprintf("use 0 for no limit or a number of tasks up to %d", jobspec.MaxArrayTasks)})
		}
	}
	if u.MaxLifespan == nil && u.Throttle == nil {
		fe = append(fe, api.FieldError{Field: "update", Message: "nothing to change: set max_lifespan or throttle"})
	}
	if len(fe) > 0 {
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid update", Fields: fe}
	}
	j, _, err = a.mutate(ctx, id, func(j *job.Job) bool {
		if j.Over() {
			return false
		}
		if u.MaxLifespan != nil && !j.IsArray() {
			j.MaxLifespan = lifespan // an array's tasks carry it
		}
		if u.Throttle != nil {
			j.Array.Throttle = *u.Throttle
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if j.Running() && !j.IsArray() && u.MaxLifespan != nil {
		a.mu.Lock()
		if _, ok := a.reserved[id]; ok && j.Dates.Started != nil {
			a.deadlines[id] = j.Dates.Started.Add(j.MaxLifespan)
		}
		a.mu.Unlock()
	}
	if j.IsArray() && u.MaxLifespan != nil {
		if err := a.updateTasks(ctx, id, lifespan); err != nil {
			return nil, err
		}
	}
	a.Wake() // a larger throttle may let tasks start
	return a.view(ctx, j)
}

// updateTasks gives an array's unfinished tasks a new lifespan.
func (a *Agent) updateTasks(ctx context.Context, parentID int64, lifespan time.Duration) error {
	tasks, err := a.tasks(ctx, parentID, api.StatePending, api.StateRunning)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		_, _, err := a.mutate(ctx, t.ID, func(j *job.Job) bool {
			if j.Over() {
				return false
			}
			j.MaxLifespan = lifespan
			return true
		})
		if err != nil {
			return err
		}
		a.mu.Lock()
		if _, ok := a.reserved[t.ID]; ok && t.Dates.Started != nil {
			a.deadlines[t.ID] = t.Dates.Started.Add(lifespan)
		}
		a.mu.Unlock()
	}
	return nil
}

// lifespanLoop kills running jobs that reach their max lifespan, and
// stopped jobs still running at the end of their kill timeout. A job's
// deadline is set when it starts running (or is adopted after a restart).
func (a *Agent) lifespanLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			var expired, forced []int64
			a.mu.Lock()
			for id, d := range a.deadlines {
				if now.After(d) {
					expired = append(expired, id)
					delete(a.deadlines, id)
				}
			}
			for id, d := range a.killDeadlines {
				if now.After(d) {
					forced = append(forced, id)
					delete(a.killDeadlines, id)
				}
			}
			a.mu.Unlock()
			for _, id := range forced {
				a.forceKill(ctx, id)
			}
			for _, id := range expired {
				a.watchLog.Info("max lifespan reached, killing", "job_id", id)
				if err := a.kill(ctx, id, "max lifespan reached"); err != nil {
					a.watchLog.Error("killing job at its max lifespan", "job_id", id, "error", err)
				}
			}
		}
	}
}
