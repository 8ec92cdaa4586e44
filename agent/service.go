package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	agenthttp "github.com/godocker/god/agent/http"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/jobspec"
	"github.com/godocker/god/store"
	"github.com/godocker/god/version"
)

// Error is an error the API reports with a status code and, for invalid
// requests, the fields to fix.
type Error struct {
	Code   int
	Msg    string
	Fields []api.FieldError
}

func (e *Error) Error() string                 { return e.Msg }
func (e *Error) StatusCode() int               { return e.Code }
func (e *Error) FieldErrors() []api.FieldError { return e.Fields }

func errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// owns: the job was submitted by the caller's account. Guests share one
// uid, so the login (the job's user name) counts as well as the uid.
func owns(caller *api.Caller, j *job.Job) bool {
	return j.User.UID == caller.UID && j.User.Name == caller.Name
}

// projectOf is the project a job counts for.
func projectOf(j *job.Job) string {
	if j.Spec.Project == "" {
		return DefaultProject
	}
	return j.Spec.Project
}

// mayManage: the caller owns the job, is an admin, or shares its project
// (share_project_jobs).
func (a *Agent) mayManage(ctx context.Context, caller *api.Caller, j *job.Job) bool {
	if owns(caller, j) || caller.Admin {
		return true
	}
	p := projectOf(j)
	if !a.cfg.ShareProjectJobs || p == DefaultProject {
		return false
	}
	ok, err := a.inProject(ctx, caller, p)
	return err == nil && ok
}

// Submit validates a spec, applies defaults and stores the job as pending.
// It returns once the job is durable. A submit that carries an idempotency
// key (agenthttp.SubmitKey) the caller used before returns the job that
// key created, checked and stored nothing again: the client retries a
// submit whose answer it lost without risking a second job.
func (a *Agent) Submit(ctx context.Context, caller *api.Caller, spec *api.JobSpec) (*api.Job, error) {
	if spec == nil {
		return nil, errorf(http.StatusBadRequest, "missing job spec")
	}
	submitKey := ""
	if k := agenthttp.SubmitKey(ctx); k != "" {
		submitKey = callerKey(caller, k)
		if j, err := a.bySubmitKey(ctx, submitKey); err != nil || j != nil {
			return j, err
		}
	}
	j, err := a.newJob(ctx, caller, spec, submitKey)
	if err != nil {
		return nil, err
	}
	if spec.Array != "" {
		return a.submitArray(ctx, j)
	}
	if err := a.store.Create(ctx, j); err != nil {
		return a.stored(ctx, err)
	}
	a.queued(j)
	a.changes.notify()
	a.Wake()
	return j.API(), nil
}

// callerKey is the stored form of a caller's idempotency key: keys are the
// caller's own, so one user's key never finds another user's job.
func callerKey(caller *api.Caller, key string) string {
	return strconv.Itoa(caller.UID) + ":" + key
}

// bySubmitKey returns the job stored with a submit key, nil if none.
func (a *Agent) bySubmitKey(ctx context.Context, key string) (*api.Job, error) {
	j, err := a.store.GetBySubmitKey(ctx, key)
	switch {
	case err == nil:
		return j.API(), nil
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	}
	return nil, fmt.Errorf("looking up the submit key: %w", err)
}

// newJob checks a spec for the caller and builds its pending job, with
// the site's defaults and every admission check done: what is left is to
// store it. Refusals are *Error, 400 with the fields to fix unless the
// caller may not submit at all.
func (a *Agent) newJob(ctx context.Context, caller *api.Caller, spec *api.JobSpec, submitKey string) (*job.Job, error) {
	if fe := jobspec.Validate(spec); len(fe) > 0 {
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid job spec", Fields: fe}
	}
	if uid := os.Geteuid(); uid != 0 && caller.UID != uid {
		return nil, errorf(http.StatusForbidden, "this agent runs as uid %d without root, so it can only run jobs for that user; run the agent as root to serve every user", uid)
	}
	s := *spec
	s.Volumes = slices.Clone(spec.Volumes)
	// uid 0 in the container is root whatever the spec says: the same rules
	// (allow_root, read-only mounts) apply.
	s.Root = s.Root || caller.UID == 0
	j := &job.Job{Spec: s, User: caller.User, Status: api.Status{Primary: api.StatePending}, SubmitKey: submitKey}
	j.Dates.Submitted = time.Now().UTC()
	if j.Spec.Image == "" {
		j.Spec.Image = a.cfg.Defaults.Image
	}
	j.CPU, j.Memory = a.cfg.Defaults.CPU, a.cfg.Defaults.MemoryBytes
	if r := spec.Resources; r != nil {
		if r.CPU > 0 {
			j.CPU = r.CPU
		}
		if r.Memory != "" {
			j.Memory, _ = jobspec.ParseMemory(r.Memory) // validated above
		}
		j.GPU = r.GPU
	}
	j.MaxLifespan = a.cfg.Defaults.Lifespan
	if spec.MaxLifespan != "" {
		j.MaxLifespan, _ = jobspec.ParseLifespan(spec.MaxLifespan) // validated above
	}
	j.KillTimeout = a.cfg.Defaults.KillTimeoutTime
	if spec.KillTimeout != "" {
		j.KillTimeout, _ = jobspec.ParseKillTimeout(spec.KillTimeout) // validated above
	}
	if spec.Hold {
		j.Held, j.HeldBy = true, caller.Name
		j.Status.Secondary, j.Status.Reason = api.SecondaryHeld, "held by "+caller.Name+" at submit"
	}
	if err := a.rateLimit(caller, jobCount(spec)); err != nil {
		return nil, err
	}
	if caller.Kind == api.AccountGuest && a.guests != nil {
		if err := a.guestHome(caller.User); err != nil {
			return nil, err
		}
	}
	fe := a.admit(ctx, j)
	fe = append(fe, a.allowed(ctx, caller, j)...)
	fe = append(fe, a.resolveDeps(ctx, caller, j)...)
	if len(fe) > 0 {
		return nil, &Error{Code: http.StatusBadRequest, Msg: "job refused", Fields: fe}
	}
	return j, nil
}

// stored answers a submit whose create failed: a racing retry of the same
// submit (same key) stored it first, so the answer is that job.
func (a *Agent) stored(ctx context.Context, err error) (*api.Job, error) {
	var dup *store.DuplicateError
	switch {
	case store.IsFull(err):
		return nil, errorf(http.StatusInsufficientStorage, "the job store is out of disk space (%v): nothing was stored; ask an administrator to free space, then submit again", err)
	case !errors.As(err, &dup):
		return nil, fmt.Errorf("storing job: %w", err)
	}
	j, gerr := a.store.Get(ctx, dup.ID)
	if gerr != nil {
		return nil, fmt.Errorf("reading job %d stored by an earlier try of this submit: %w", dup.ID, gerr)
	}
	return j.API(), nil
}

// jobCount is how many jobs a valid spec queues: its tasks for an array.
func jobCount(spec *api.JobSpec) int {
	if spec.Array == "" {
		return 1
	}
	first, last, step, _ := jobspec.ParseArray(spec.Array) // validated
	return (last-first)/step + 1
}

// rateLimit refuses a submit that would take the caller's pending jobs, or
// everyone's, past the site's caps. Checked before storing, so under a
// burst the caps can be passed by at most the submits in flight.
func (a *Agent) rateLimit(caller *api.Caller, n int) error {
	a.mu.Lock()
	mine, all := a.pendingByUID[caller.UID], len(a.queue)
	a.mu.Unlock()
	if c := a.cfg.MaxPendingPerUser; c > 0 && mine+n > c {
		return errorf(http.StatusTooManyRequests, "too many pending jobs: you have %d pending and this would add %d, over this site's limit of %d per user (max_pending_per_user); wait for some to start or stop some", mine, n, c)
	}
	if c := a.cfg.MaxPending; c > 0 && all+n > c {
		return errorf(http.StatusTooManyRequests, "the queue is full: %d jobs pending and this would add %d, over this site's limit of %d (max_pending); try again later", all, n, c)
	}
	return nil
}

// admit refuses at submit what could never run: root where not allowed,
// unknown or unavailable volumes, requests larger than the executor.
func (a *Agent) admit(ctx context.Context, j *job.Job) []api.FieldError {
	var fe []api.FieldError
	if j.Spec.Root && !a.cfg.AllowRoot {
		fe = append(fe, api.FieldError{Field: "root", Message: "running as root is not allowed on this site (agent config allow_root = false); remove root = true"})
	}
	if j.KillTimeout > a.cfg.MaxKillTimeoutTime {
		fe = append(fe, api.FieldError{Field: "kill_timeout", Message: fmt.Sprintf("%s is longer than this site allows (max_kill_timeout %s); ask for less", j.KillTimeout, a.cfg.MaxKillTimeoutTime)})
	}
	for i, name := range j.Spec.Volumes {
		if _, err := a.resolveVolume(name, j.User, a.groupsOrNone(ctx, j.User), projectOf(j)); err != nil {
			fe = append(fe, api.FieldError{Field: fmt.Sprintf("volumes[%d]", i), Message: err.Error()})
		}
	}
	if c, err := a.currentCapacity(ctx); err == nil {
		if j.CPU > c.CPU+1e-9 {
			fe = append(fe, api.FieldError{Field: "resources.cpu", Message: fmt.Sprintf("%g cores requested but the %s executor has %g at most; ask for fewer", j.CPU, a.exec.Name(), c.CPU)})
		}
		if j.Memory > c.Memory {
			fe = append(fe, api.FieldError{Field: "resources.memory", Message: fmt.Sprintf("%s requested but the %s executor has %s at most; ask for less", api.FormatSize(j.Memory), a.exec.Name(), api.FormatSize(c.Memory))})
		}
		switch {
		case j.GPU > 0 && c.GPUs == 0:
			fe = append(fe, api.FieldError{Field: "resources.gpu", Message: fmt.Sprintf("%d GPU(s) requested but the %s executor has none; remove gpu, or ask an admin to configure GPUs (docker { gpus = N })", j.GPU, a.exec.Name())})
		case j.GPU > c.GPUs:
			fe = append(fe, api.FieldError{Field: "resources.gpu", Message: fmt.Sprintf("%d GPUs requested but the %s executor has %d at most; ask for fewer", j.GPU, a.exec.Name(), c.GPUs)})
		}
	}
	return fe
}

// allowed refuses what the caller's rights do not cover: a project they
// are not a member of, an image off the site's list, root for a guest.
func (a *Agent) allowed(ctx context.Context, caller *api.Caller, j *job.Job) []api.FieldError {
	var fe []api.FieldError
	if ok, err := a.inProject(ctx, caller, j.Spec.Project); err != nil {
		fe = append(fe, api.FieldError{Field: "project", Message: err.Error()})
	} else if !ok {
		fe = append(fe, api.FieldError{Field: "project", Message: fmt.Sprintf("you are not a member of project %q; use one of yours (god project list) or leave project out for the default one", j.Spec.Project)})
	}
	if im := a.cfg.Images; !*im.AllowUserImages && !imageAllowed(im.Allowed, j.Spec.Image) {
		fe = append(fe, api.FieldError{Field: "image", Message: fmt.Sprintf("image %q is not allowed on this site; use one of: %s", j.Spec.Image, strings.Join(im.Allowed, ", "))})
	}
	if caller.Kind == api.AccountGuest && j.Spec.Root && (a.cfg.Guests == nil || !a.cfg.Guests.AllowRoot) {
		fe = append(fe, api.FieldError{Field: "root", Message: "guests may not run jobs as root on this site (guests.allow_root = false); remove root = true"})
	}
	return fe
}

// imageAllowed matches an image against the site's list of names and
// shell patterns ("debian:*").
func imageAllowed(allowed []string, image string) bool {
	for _, p := range allowed {
		if ok, _ := path.Match(p, image); ok || p == image {
			return true
		}
	}
	return false
}

// groupsOrNone is groupsOf for checks that refuse on any error anyway.
func (a *Agent) groupsOrNone(ctx context.Context, u api.User) []string {
	g, _ := a.groupsOf(ctx, u)
	return g
}

// authorized returns the job if the caller may act on it.
func (a *Agent) authorized(ctx context.Context, caller *api.Caller, id int64) (*job.Job, error) {
	j, err := a.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "job %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if !a.mayManage(ctx, caller, j) {
		return nil, errorf(http.StatusForbidden, "permission denied: job %d belongs to another user", id)
	}
	return j, nil
}

// maxWait caps blocking queries.
const maxWait = 5 * time.Minute

// Job returns a job; with index > 0 it blocks until the job's version
// exceeds index or wait passes.
func (a *Agent) Job(ctx context.Context, caller *api.Caller, id, index int64, wait time.Duration) (*api.Job, error) {
	if wait <= 0 || wait > maxWait {
		wait = maxWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		changed := a.changes.wait()
		j, err := a.authorized(ctx, caller, id)
		if err != nil {
			return nil, err
		}
		if index <= 0 || j.Version > index {
			return a.view(ctx, j)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return a.view(ctx, j)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// defaultListLimit keeps `god job status` readable for prolific users.
const defaultListLimit = 100

// Jobs lists the caller's jobs (every job for an admin), newest first;
// with a project, that project's jobs the caller may see.
func (a *Agent) Jobs(ctx context.Context, caller *api.Caller, opts *api.JobListOptions) ([]*api.Job, error) {
	states, limit := opts.States, opts.Limit
	for _, s := range states {
		switch s {
		case api.StatePending, api.StateRunning, api.StateOver, api.StateArchived:
		default:
			return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid state filter", Fields: []api.FieldError{{Field: "state", Message: fmt.Sprintf("%q is not a state; use pending, running, over or archived", s)}}}
		}
	}
	if limit <= 0 {
		limit = defaultListLimit
	}
	f := store.Filter{States: states}
	shared := opts.Project != "" && a.cfg.ShareProjectJobs
	if shared {
		if ok, err := a.inProject(ctx, caller, opts.Project); err != nil {
			return nil, err
		} else if !ok && !caller.Admin {
			return nil, errorf(http.StatusForbidden, "permission denied: you are not a member of project %s", opts.Project)
		}
	}
	if !caller.Admin && (!shared || opts.Project == DefaultProject) {
		f.UID = &caller.UID
	}
	// The store filters by uid and state; the owner's name and the project
	// are checked here, paging until limit jobs are found.
	out := []*api.Job{}
	for {
		f.Limit = limit * 2
		jobs, err := a.store.List(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			if (f.UID != nil && !owns(caller, j)) || (opts.Project != "" && projectOf(j) != opts.Project) {
				continue
			}
			out = append(out, j.API())
			if len(out) == limit {
				return out, nil
			}
		}
		if len(jobs) < f.Limit {
			return out, nil
		}
		f.BeforeID = jobs[len(jobs)-1].ID
	}
}

// Stop kills a job: a pending one ends at once, a running one is killed on
// the engine and ends when its container has stopped. Both end over/killed
// with exit code 137.
func (a *Agent) Stop(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error) {
	if _, err := a.authorized(ctx, caller, id); err != nil {
		return nil, err
	}
	if err := a.kill(ctx, id, ""); err != nil {
		return nil, err
	}
	j, err := a.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return a.view(ctx, j)
}

// kill stops a job for a reason ("" when the user asked). A pending job
// ends at once; a running one gets SIGTERM and, past its kill timeout,
// SIGKILL (at once without one), and ends when its container has stopped;
// an array stops every task and ends with the last.
func (a *Agent) kill(ctx context.Context, id int64, reason string) error {
	var wasRunning, isArray bool
	var deadline *time.Time
	_, _, err := a.mutate(ctx, id, func(j *job.Job) bool {
		wasRunning, isArray, deadline = false, j.IsArray(), nil
		switch {
		case j.Pending():
			j.KillRequested, j.KillReason = true, reason
			j.MarkOver(nil, "", "", time.Now())
			return true
		case j.Running() && !j.KillRequested:
			wasRunning = true
			j.KillRequested, j.KillReason = true, reason
			j.Status.Secondary = api.SecondaryKillRequested
			if j.KillTimeout > 0 && !j.IsArray() {
				d := time.Now().Add(j.KillTimeout)
				j.KillDeadline, deadline = &d, &d
			}
			return true
		case j.Running():
			wasRunning = true
		}
		return false
	})
	if err != nil {
		return err
	}
	switch {
	case wasRunning && isArray:
		return a.killTasks(ctx, id, reason)
	case deadline != nil:
		a.stopUntil(ctx, id, *deadline)
	case wasRunning:
		if err := a.exec.Kill(ctx, id); err != nil {
			// The request is durable: the watcher retries at its next reconcile.
			a.log.Warn("kill failed, will retry", "job_id", id, "error", err)
		}
	}
	a.Wake()
	return nil
}

// stopUntil sends a stopped job SIGTERM and has lifespanLoop send SIGKILL
// at deadline if it is still running. A failed SIGTERM is not retried: the
// SIGKILL at the deadline is.
func (a *Agent) stopUntil(ctx context.Context, id int64, deadline time.Time) {
	a.mu.Lock()
	a.killDeadlines[id] = deadline
	a.mu.Unlock()
	if err := a.exec.Stop(ctx, id); err != nil {
		a.log.Warn("stop signal failed; the job is killed at its kill timeout", "job_id", id, "error", err)
	}
}

// forceKill sends SIGKILL to a stopped job still running past its kill
// timeout; the record says so first, so the end is reported as killed.
func (a *Agent) forceKill(ctx context.Context, id int64) {
	_, _, err := a.mutate(ctx, id, func(j *job.Job) bool {
		if !j.Running() || j.KillForced {
			return false
		}
		j.KillForced = true
		return true
	})
	if err != nil {
		a.watchLog.Error("recording a forced kill", "job_id", id, "error", err)
		return
	}
	a.watchLog.Info("kill timeout reached, killing", "job_id", id)
	if err := a.exec.Kill(ctx, id); err != nil {
		a.watchLog.Warn("kill failed, will retry", "job_id", id, "error", err)
	}
}

// Logs copies a job's stdout or stderr to w from offset. With follow it
// keeps copying until the job is over and everything has been read.
func (a *Agent) Logs(ctx context.Context, caller *api.Caller, id int64, stream string, offset int64, follow bool, w io.Writer, flush func()) error {
	j, err := a.authorized(ctx, caller, id)
	if err != nil {
		return err
	}
	var name string
	switch stream {
	case "", api.LogStdout:
		name = "god.log"
	case api.LogStderr:
		name = "god.err"
	default:
		return &Error{Code: http.StatusBadRequest, Msg: "invalid log stream", Fields: []api.FieldError{{Field: "stream", Message: fmt.Sprintf("%q is not a stream; use stdout or stderr", stream)}}}
	}
	if j.Status.Primary == api.StateArchived {
		return errorf(http.StatusGone, "job %d is archived: its directory was removed", id)
	}
	if j.IsArray() {
		return errorf(http.StatusBadRequest, "job %d is an array: read the logs of its tasks (god job status %d shows their ids)", id, id)
	}
	for j.Pending() {
		if !follow {
			return errorf(http.StatusConflict, "job %d is pending: it has no output yet (use -f to wait for it)", id)
		}
		if j, err = a.waitChange(ctx, id, time.Minute); err != nil {
			return err
		}
	}
	if j.Status.Primary == api.StateArchived {
		return errorf(http.StatusGone, "job %d is archived: its directory was removed", id)
	}
	if j.Dates.Started == nil {
		return errorf(http.StatusNotFound, "job %d never ran (%s), so it has no output", id, statusLine(j))
	}
	path := filepath.Join(a.dirOf(j), name)
	var f *os.File
	for f == nil {
		f, err = openJobFile(path, j)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && follow && !j.Over()) {
			if errors.Is(err, os.ErrNotExist) {
				return errorf(http.StatusNotFound, "job %d has no %s (the job wrote nothing or its directory was cleaned)", id, name)
			}
			return err
		}
		if f == nil {
			if j, err = a.waitChange(ctx, id, 250*time.Millisecond); err != nil {
				return err
			}
		}
	}
	defer f.Close()
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return err
		}
	}
	for {
		over := j.Over()
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		flush()
		if !follow || over {
			return nil
		}
		if j, err = a.waitChange(ctx, id, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

func statusLine(j *job.Job) string {
	s := j.Status.Primary
	if j.Status.Secondary != "" {
		s += ", " + j.Status.Secondary
	}
	if j.Status.Reason != "" {
		s += ": " + j.Status.Reason
	}
	return s
}

// waitChange waits for a job change or d, then re-reads the job.
func (a *Agent) waitChange(ctx context.Context, id int64, d time.Duration) (*job.Job, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-a.changes.wait():
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return a.store.Get(ctx, id)
}

// openJobFile opens a file of the user-writable job directory as the agent
// (root) without being tricked: no symlinks, regular files only, owned by
// the job's user (or root for a root job), so a planted link or hard link to
// a system file is refused.
func openJobFile(path string, j *job.Job) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, errorf(http.StatusForbidden, "%s is a symbolic link; GoDocker does not follow links in job directories", filepath.Base(path))
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	owner := -1
	if st != nil {
		owner = int(st.Uid)
	}
	if !fi.Mode().IsRegular() || (owner != j.User.UID && !(owner == 0 && j.Spec.Root)) {
		f.Close()
		return nil, errorf(http.StatusForbidden, "%s is not a regular file owned by %s; refusing to read it", filepath.Base(path), j.User.Name)
	}
	return f, nil
}

// Self describes the agent to a caller.
func (a *Agent) Self(caller *api.Caller) *api.AgentSelf {
	return &api.AgentSelf{Version: version.Version, Dev: a.cfg.Dev, Executor: a.exec.Name(), Caller: *caller}
}
