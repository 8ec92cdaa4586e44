package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/jobspec"
	"github.com/godocker/god/store"
)

// Archive removes a finished job's directory and marks it archived (its
// record stays); with purge the record goes too. An array takes its tasks
// with it.
func (a *Agent) Archive(ctx context.Context, caller *api.Caller, id int64, purge bool) (*api.ArchiveResponse, error) {
	j, err := a.authorized(ctx, caller, id)
	if err != nil {
		return nil, err
	}
	if !j.Over() {
		return nil, errorf(http.StatusConflict, "job %d is %s: only finished jobs can be archived (stop it first)", id, j.Status.Primary)
	}
	var out api.ArchiveResponse
	if err := a.archive(ctx, j, purge, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ArchiveOlder archives the caller's jobs (everyone's for an admin) that
// ended more than r.OlderThan ago, optionally only those with a tag.
func (a *Agent) ArchiveOlder(ctx context.Context, caller *api.Caller, r *api.ArchiveRequest) (*api.ArchiveResponse, error) {
	age, err := jobspec.ParseLifespan(r.OlderThan)
	if err != nil {
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid archive request", Fields: []api.FieldError{{Field: "older_than", Message: err.Error()}}}
	}
	var owner *api.Caller
	if !caller.Admin {
		owner = caller
	}
	return a.archiveOlder(ctx, owner, age, r.Tag, r.Purge)
}

// archiveOlder archives the jobs of owner (everyone's when nil) that ended
// more than age ago. Guests share a uid: ownership is checked on the
// account, not on the uid alone.
func (a *Agent) archiveOlder(ctx context.Context, owner *api.Caller, age time.Duration, tag string, purge bool) (*api.ArchiveResponse, error) {
	states := []string{api.StateOver}
	if purge {
		states = append(states, api.StateArchived)
	}
	f := store.Filter{States: states, EndedBefore: time.Now().Add(-age), Ascending: true}
	if owner != nil {
		f.UID = &owner.UID
	}
	jobs, err := a.store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	var out api.ArchiveResponse
	for _, j := range jobs {
		if j.ParentID != 0 {
			continue // goes with its array
		}
		if owner != nil && !owns(owner, j) {
			continue
		}
		if tag != "" && !slices.Contains(j.Spec.Tags, tag) {
			continue
		}
		if err := a.archive(ctx, j, purge, &out); err != nil {
			return &out, err
		}
	}
	return &out, nil
}

// archive removes the directory first and records the change after, so a
// crash in between leaves a job that is archived again next time.
func (a *Agent) archive(ctx context.Context, j *job.Job, purge bool, out *api.ArchiveResponse) error {
	jobs := []*job.Job{j}
	if j.IsArray() {
		tasks, err := a.tasks(ctx, j.ID)
		if err != nil {
			return err
		}
		jobs = append(tasks, j)
	}
	// The directory path is the agent's own (jobs/<id>), and RemoveAll
	// follows no link a job may have left inside it.
	if err := os.RemoveAll(a.dirOf(j)); err != nil {
		return fmt.Errorf("removing the directory of job %d: %w", j.ID, err)
	}
	for _, x := range jobs {
		if purge {
			if err := a.store.Delete(ctx, x.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			out.Purged++
			continue
		}
		_, archived, err := a.mutate(ctx, x.ID, func(x *job.Job) bool {
			if x.Status.Primary != api.StateOver {
				return false
			}
			x.Status.Primary = api.StateArchived
			x.JobDir = "" // removed
			return true
		})
		if err != nil {
			return err
		}
		if archived {
			out.Archived++
		}
	}
	a.changes.notify()
	return nil
}

// archiveLoop is the archiver role: it archives jobs over for longer than
// archive_after, checking a few times per that period (at most hourly).
func (a *Agent) archiveLoop(ctx context.Context) {
	age := a.cfg.ArchiveAge
	if age <= 0 {
		return
	}
	every := min(max(age/4, time.Second), time.Hour)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if res, err := a.archiveOlder(ctx, nil, age, "", false); err != nil && ctx.Err() == nil {
			a.watchLog.Error("archiving old jobs", "error", err)
		} else if res != nil && res.Archived > 0 {
			a.watchLog.Info("archived old jobs", "count", res.Archived)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
