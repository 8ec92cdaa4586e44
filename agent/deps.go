package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/jobspec"
	"github.com/godocker/god/store"
)

// resolveDeps checks at submit that every job depended on exists and is
// the caller's (or the caller is an admin), and records the dependencies.
// Dependencies only point at existing jobs, so they cannot form a cycle.
func (a *Agent) resolveDeps(ctx context.Context, caller *api.Caller, j *job.Job) []api.FieldError {
	var fe []api.FieldError
	for i, s := range j.Spec.DependsOn {
		field := fmt.Sprintf("depends_on[%d]", i)
		kind, id, _ := jobspec.ParseDependency(s) // validated
		dep, err := a.store.Get(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			fe = append(fe, api.FieldError{Field: field, Message: fmt.Sprintf("job %d not found; depend on jobs that exist (see god job status)", id)})
			continue
		case err != nil:
			fe = append(fe, api.FieldError{Field: field, Message: err.Error()})
			continue
		case !owns(caller, dep) && !caller.Admin:
			fe = append(fe, api.FieldError{Field: field, Message: fmt.Sprintf("job %d belongs to another user; you can only depend on your own jobs", id)})
			continue
		}
		j.Deps = append(j.Deps, job.Dep{Kind: kind, JobID: id})
	}
	return fe
}

// depState tells whether a job's dependencies let it start now (ready),
// never will (never, with the reason), or not yet (waiting, with what).
func (a *Agent) depState(ctx context.Context, j *job.Job) (ready bool, never, waiting string, err error) {
	var waits []string
	for _, d := range j.Deps {
		dep, err := a.store.Get(ctx, d.JobID)
		if errors.Is(err, store.ErrNotFound) {
			if d.Kind == jobspec.DepAfterAny {
				continue // purged, so it ended
			}
			return false, fmt.Sprintf("job %d (%s) was purged: its outcome is unknown", d.JobID, d.Kind), "", nil
		}
		if err != nil {
			return false, "", "", err
		}
		if dep.IsArray() && d.Kind == jobspec.DepAfter {
			// An array starts when its first task does.
			started, err := a.arrayStarted(ctx, dep)
			if err != nil {
				return false, "", "", err
			}
			dep = &job.Job{Status: dep.Status, Dates: api.Dates{Started: started}}
		}
		ok, no := depOutcome(d.Kind, dep)
		switch {
		case no != "":
			return false, fmt.Sprintf("job %d %s, so %s can never be satisfied", d.JobID, no, d.Kind), "", nil
		case !ok:
			waits = append(waits, fmt.Sprintf("job %d (%s)", d.JobID, d.Kind))
		}
	}
	if len(waits) > 0 {
		return false, "", "waiting for " + strings.Join(waits, ", "), nil
	}
	return true, "", "", nil
}

// depOutcome: whether dep satisfies kind, or why it never will.
func depOutcome(kind string, dep *job.Job) (ok bool, never string) {
	succeeded := dep.Status.ExitCode != nil && *dep.Status.ExitCode == 0 && dep.Status.Secondary != api.SecondaryKilled
	switch kind {
	case jobspec.DepAfter:
		if dep.Dates.Started != nil {
			return true, ""
		}
		if dep.Over() {
			return false, "ended without starting"
		}
	case jobspec.DepAfterOK:
		if dep.Over() && succeeded {
			return true, ""
		}
		if dep.Over() {
			return false, "did not succeed (" + outcome(dep) + ")"
		}
	case jobspec.DepAfterNotOK:
		if dep.Over() && !succeeded {
			return true, ""
		}
		if dep.Over() {
			return false, "succeeded"
		}
	default: // afterany
		return dep.Over(), ""
	}
	return false, ""
}

func outcome(j *job.Job) string {
	if j.Status.ExitCode == nil {
		return j.Status.Primary + " " + j.Status.Secondary
	}
	s := fmt.Sprintf("exit code %d", *j.Status.ExitCode)
	if j.Status.Secondary != "" {
		s = j.Status.Secondary + ", " + s
	}
	return s
}

// unsatisfiable applies the site's policy to a job whose dependency can
// never be satisfied: end it with the reason, or hold it.
func (a *Agent) unsatisfiable(ctx context.Context, j *job.Job, reason string) {
	if a.cfg.UnsatisfiableDependencies == "hold" {
		_, _, _ = a.mutate(ctx, j.ID, func(j *job.Job) bool {
			if !j.Pending() || j.Held {
				return false
			}
			j.Held, j.HeldBy = true, "GoDocker"
			j.Status.Secondary, j.Status.Reason = api.SecondaryHeld, reason
			return true
		})
		return
	}
	a.endPending(ctx, j.ID, api.SecondaryDependency, reason)
}

// setWaiting records what a pending job waits for, when it changes.
func (a *Agent) setWaiting(ctx context.Context, id int64, reason string) {
	_, _, _ = a.mutate(ctx, id, func(j *job.Job) bool {
		if !j.Pending() || j.Held || j.Status.Reason == reason {
			return false
		}
		j.Status.Secondary, j.Status.Reason = api.SecondaryWaiting, reason
		return true
	})
}

// arrayStarted is when an array's first task started, or nil.
func (a *Agent) arrayStarted(ctx context.Context, arr *job.Job) (*time.Time, error) {
	tasks, err := a.tasks(ctx, arr.ID, api.StateRunning, api.StateOver, api.StateArchived)
	if err != nil {
		return nil, err
	}
	var first *time.Time
	for _, t := range tasks {
		if s := t.Dates.Started; s != nil && (first == nil || s.Before(*first)) {
			first = s
		}
	}
	return first, nil
}
