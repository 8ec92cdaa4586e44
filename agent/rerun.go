package agent

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
)

// Reschedule kills a running job and puts it back to pending with the same
// id, to run again (Go-Docker's reschedule). Its directory is kept.
func (a *Agent) Reschedule(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error) {
	j, err := a.authorized(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	switch {
	case j.IsArray():
		return nil, errorf(http.StatusConflict, "job %d is an array: reschedule its tasks (god job status %d lists them)", id, id)
	case !j.Running():
		return nil, errorf(http.StatusConflict, "job %d is %s: only running jobs can be rescheduled", id, j.Status.Primary)
	case j.KillRequested:
		return nil, errorf(http.StatusConflict, "job %d is being stopped", id)
	}
	j, _, err = a.mutate(ctx, id, func(j *job.Job) bool {
		if !j.Running() || j.KillRequested || j.RescheduleRequested {
			return false
		}
		j.RescheduleRequested = true
		j.Status.Secondary, j.Status.Reason = api.SecondaryRescheduling, "rescheduled by "+caller.Name
		return true
	})
	if err != nil {
		return nil, err
	}
	if err := a.exec.Kill(ctx, id); err != nil {
		a.log.Warn("kill for reschedule failed, will retry", "job_id", id, "error", err)
	}
	return a.view(ctx, j)
}

// rerun decides what becomes of a running job whose container is gone
// before it could finish by itself: a requested reschedule, or a retry of
// a job the engine lost (lostWhy says how) while it may still retry. It
// reports whether the job went back to pending.
func (a *Agent) rerun(ctx context.Context, id int64, lostWhy string) bool {
	var requeued bool
	var retry int
	_, _, err := a.mutate(ctx, id, func(j *job.Job) bool {
		requeued, retry = false, 0
		if !j.Running() || j.KillRequested {
			return false
		}
		switch {
		case j.RescheduleRequested:
			j.Reschedules++
			j.MarkPending(api.SecondaryRescheduled, fmt.Sprintf("%s (%d time(s))", j.Status.Reason, j.Reschedules))
		case lostWhy != "" && j.Retries < min(j.Spec.Retries, *a.cfg.MaxRetries):
			j.Retries++
			retry = j.Retries
			if j.Container != nil && j.Container.Node != "" {
				j.FailedNodes = append(j.FailedNodes, j.Container.Node)
			}
			j.MarkPending(api.SecondaryRescheduled, fmt.Sprintf("%s; retry %d of %d", lostWhy, j.Retries, min(j.Spec.Retries, *a.cfg.MaxRetries)))
		default:
			return false
		}
		a.returnFiles(j)
		requeued = true
		return true
	})
	if err != nil {
		a.watchLog.Error("requeueing job", "job_id", id, "error", err)
		return false
	}
	if requeued {
		a.watchLog.Info("job back to pending", "job_id", id)
		if retry > 0 {
			// What lost the container (an engine restarting, a node
			// failing) may not be over yet: the retry waits a little.
			// Set while the job is still reserved, so no pass starts it
			// before.
			a.mu.Lock()
			a.backoff[id] = time.Now().Add(retryDelay(retry))
			a.mu.Unlock()
		}
		a.release(id)
		a.Wake()
	}
	return requeued
}

// retryDelay is how long the nth retry of a lost job waits: 2 s, doubled
// each retry, at most a minute.
func retryDelay(n int) time.Duration {
	return min(2*time.Second<<min(n-1, 5), time.Minute)
}

// requeue puts a running job the engine gave back (it could not place it)
// back to pending, with the engine's reason; its retries are not spent.
func (a *Agent) requeue(ctx context.Context, id int64, reason string) {
	var requeued bool
	_, _, err := a.mutate(ctx, id, func(j *job.Job) bool {
		requeued = j.Running() && !j.KillRequested
		if requeued {
			j.MarkPending("", "the engine could not place it: "+reason)
		}
		return requeued
	})
	if err != nil {
		a.watchLog.Error("requeueing job", "job_id", id, "error", err)
		return
	}
	if requeued {
		a.watchLog.Info("job given back by the engine, pending again", "job_id", id, "reason", reason)
		a.release(id)
		a.Wake()
	}
}
