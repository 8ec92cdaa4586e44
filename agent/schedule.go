package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/godocker/god/agent/pin"
	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/failpoint"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/store"
)

// maxConcurrentDispatch bounds engine calls in flight: container start is
// slow (hundreds of ms), so several run at once, but not unboundedly.
const maxConcurrentDispatch = 8

// capacityTTL is how long a capacity reading is trusted.
const capacityTTL = 30 * time.Second

// schedulerLoop runs a cycle whenever something may let a job start: a
// submit, a job's end, a failed dispatch's backoff expiring. There is no
// fixed sleep on the path from submit to dispatch.
func (a *Agent) schedulerLoop(ctx context.Context) {
	sem := make(chan struct{}, maxConcurrentDispatch)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-retry:
		}
		next, err := a.cycle(ctx, sem)
		if err != nil && ctx.Err() == nil {
			a.schedLog.Error("scheduling cycle failed", "error", err)
			next = time.Second
		}
		retry = nil
		if next > 0 {
			retry = time.After(next)
		}
	}
}

// cycle orders the pending jobs and dispatches those that fit. It returns
// when a retry is due for jobs held back by a dispatch failure (0: none).
func (a *Agent) cycle(ctx context.Context, sem chan struct{}) (time.Duration, error) {
	a.mu.Lock()
	if len(a.queue) == 0 {
		a.mu.Unlock()
		return 0, nil
	}
	a.mu.Unlock()
	capacity, err := a.currentCapacity(ctx)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	var retryIn time.Duration
	// One pass over the queue under the lock copies what the policy needs
	// into compact records: touching 100,000 scattered job records twice
	// cost more than the ordering.
	a.passMu.Lock()
	defer a.passMu.Unlock()
	a.mu.Lock()
	// The buffers of the last pass are reused: 100,000 compact records are
	// 15 MB that the garbage collector would otherwise scan and free each
	// pass. Policies do not keep the snapshot past Order.
	cands := reuse(a.passCands, len(a.queue))
	pending := reuse(a.passPending, len(a.queue))
	defer func() { a.passCands, a.passPending = clear0(cands), clear0(pending) }()
	var withDeps []*job.Job
	for _, j := range a.queue {
		if _, busy := a.reserved[j.ID]; busy || j.Held {
			continue // being dispatched, or held
		}
		if until, ok := a.backoff[j.ID]; ok && now.Before(until) {
			if d := until.Sub(now); retryIn == 0 || d < retryIn {
				retryIn = d
			}
			continue
		}
		if len(j.Deps) > 0 && !j.DepsMet {
			withDeps = append(withDeps, j)
			continue
		}
		cands = append(cands, j)
		pending = append(pending, compactJob(j))
	}
	a.mu.Unlock()

	// Dependencies read the store: outside the lock.
	for _, j := range withDeps {
		ready, never, waiting, err := a.depState(ctx, j)
		if err != nil {
			return 0, err
		}
		switch {
		case never != "":
			a.unsatisfiable(ctx, j, never)
		case !ready:
			a.setWaiting(ctx, j.ID, waiting)
		default:
			cands = append(cands, j)
			pending = append(pending, compactJob(j))
		}
	}
	byID := make(map[int64]*job.Job, len(cands))
	for i, j := range cands {
		byID[pending[i].ID] = j
	}
	snap := a.snapshot(now, 0)
	a.priorities(ctx).fill(pending)
	snap.Pending = pending

	if needsWindow(a.policy) {
		a.mu.Lock()
		a.window.fill(snap, now)
		a.mu.Unlock()
	}
	order, err := a.policy.Order(ctx, snap)
	if err != nil {
		return 0, fmt.Errorf("scheduler %s: %w", a.policy.Name(), err)
	}
	throttles := map[int64]int{}
	pq := a.projectQuotas(ctx)
	for _, d := range order {
		j, ok := byID[d.JobID]
		if !ok {
			continue // a policy may not invent jobs
		}
		delete(byID, d.JobID)
		if j.ParentID != 0 && a.throttled(ctx, j.ParentID, throttles) {
			continue // its array has as many tasks running as it allows
		}
		if ok, overQuota, windowed := a.reserve(j, capacity, pq); overQuota {
			if windowed != "" && a.cfg.Quota.WhenExceeded == "end" {
				a.endPending(ctx, j.ID, api.SecondaryQuotaReached, windowed) // Go-Docker's behaviour
			}
			continue // its owner runs all their quota allows; others may go
		} else if !ok {
			// FIFO semantics: the head waits for room rather than being
			// overtaken (backfill is the scheduler policy's business).
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			a.release(j.ID)
			return 0, nil
		}
		a.dispatching.Add(1)
		go func() {
			defer a.dispatching.Done()
			a.dispatch(context.WithoutCancel(ctx), j, func() { <-sem })
		}()
	}
	return retryIn, nil
}

// reuse is buf emptied, or a new slice when buf is too small for n.
func reuse[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, 0, n)
	}
	return buf[:0]
}

// clear0 zeroes s's elements (dropping what they point to) and returns it
// for the next reuse.
func clear0[T any](s []T) []T {
	clear(s)
	return s[:0]
}

func (a *Agent) currentCapacity(ctx context.Context) (executor.Capacity, error) {
	a.mu.Lock()
	c, at := a.capacity, a.capAt
	a.mu.Unlock()
	if time.Since(at) < capacityTTL {
		return c, nil
	}
	c, err := a.exec.Capacity(ctx)
	if err != nil {
		return c, err
	}
	a.mu.Lock()
	a.capacity, a.capAt = c, time.Now()
	a.mu.Unlock()
	return c, nil
}

// QueueLength is the number of pending jobs.
func (a *Agent) QueueLength() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// snapshot starts a policy's snapshot with the usage ledger and what each
// user runs now.
func (a *Agent) snapshot(now time.Time, n int) *scheduler.Snapshot {
	snap := &scheduler.Snapshot{Now: now, Pending: make([]scheduler.Job, 0, n), Running: map[int]float64{}, GPUWeight: a.ledger.gpuWeight}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.reserved {
		snap.Running[r.uid] += r.CPU + a.ledger.gpuWeight*float64(r.GPUs)
	}
	l := a.ledger
	snap.Usage = make(map[int]float64, len(l.users))
	for uid, acc := range l.users {
		snap.Usage[uid] = l.amounts(acc, now).Effective
	}
	snap.ProjectUsage = make(map[string]float64, len(l.projects))
	for name, acc := range l.projects {
		snap.ProjectUsage[name] = l.amounts(acc, now).Effective
	}
	snap.GroupUsage = make(map[string]float64, len(l.groups))
	for gid, acc := range l.groups {
		snap.GroupUsage[groupKey(gid)] = l.amounts(acc, now).Effective
	}
	return snap
}

// needsWindow tells whether a policy reads the quota window's usage: Go-Docker's
// formula and plugins do; fifo and fair share do not, and filling it costs
// a map lookup per pending job.
func needsWindow(p scheduler.Scheduler) bool {
	switch p.Name() {
	case "fifo", "fairshare":
		return false
	}
	return true
}

// throttled reports whether an array already runs as many tasks as its
// throttle allows; limits holds the throttles read in this cycle.
func (a *Agent) throttled(ctx context.Context, parentID int64, limits map[int64]int) bool {
	limit, ok := limits[parentID]
	if !ok {
		if p, err := a.store.Get(ctx, parentID); err == nil && p.Array != nil {
			limit = p.Array.Throttle
		}
		limits[parentID] = limit
	}
	if limit <= 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.arrayActive[parentID] >= limit
}

// CapacityChanged tells the agent that the executor's capacity changed
// (nodes added, limits raised): the next cycle reads it afresh.
func (a *Agent) CapacityChanged() {
	a.mu.Lock()
	a.capAt = time.Time{}
	a.mu.Unlock()
	a.Wake()
}

// reserve books j's resources if they fit in what is left of capacity.
// Its owner's quota is checked in the same critical section, so concurrent
// cycles and dispatches can never take a user past it.
func (a *Agent) reserve(j *job.Job, capacity executor.Capacity, pq map[string]*api.ProjectQuota) (ok, overQuota bool, windowed string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r, w := a.quotaReasonLocked(j, pq, time.Now()); r != "" {
		if w {
			windowed = r
		}
		return false, true, windowed
	}
	// A small epsilon keeps float sums of fractions like 0.1 from refusing
	// a job that exactly fits.
	if a.used.CPU+j.CPU > capacity.CPU+1e-9 || a.used.Memory+j.Memory > capacity.Memory || a.used.GPUs+j.GPU > capacity.GPUs {
		return false, false, ""
	}
	a.bookLocked(j)
	return true, false, ""
}

// userUse is what one user runs (or is starting) now.
type userUse struct {
	cpu    float64
	memory int64
	gpus   int
	jobs   int
}

// plus is u with c and n jobs added (or, negative, taken away).
func (u userUse) plus(c executor.Capacity, n int) userUse {
	return userUse{cpu: u.cpu + c.CPU, memory: u.memory + c.Memory, gpus: u.gpus + c.GPUs, jobs: u.jobs + n}
}

// quotaReasonLocked says how j would take its owner or its project past a
// quota, or "" if it would not; windowed tells a cpu_hours quota (which
// only time frees) from a running one (which a job's end frees).
func (a *Agent) quotaReasonLocked(j *job.Job, pq map[string]*api.ProjectQuota, now time.Time) (reason string, windowed bool) {
	if q := a.cfg.Quota; q != nil {
		u := a.userUse[j.User.UID]
		switch {
		case q.RunningJobs > 0 && u.jobs+1 > q.RunningJobs:
			return fmt.Sprintf("%s runs %d job(s), the quota of %d at once (quota.running_jobs)", j.User.Name, u.jobs, q.RunningJobs), false
		case q.RunningCPU > 0 && u.cpu+j.CPU > q.RunningCPU+1e-9:
			return fmt.Sprintf("%s runs %g cpu; with this job's %g that passes the quota of %g (quota.running_cpu)", j.User.Name, u.cpu, j.CPU, q.RunningCPU), false
		case q.RunningMemoryBytes > 0 && u.memory+j.Memory > q.RunningMemoryBytes:
			return fmt.Sprintf("%s runs %s; with this job's %s that passes the quota of %s (quota.running_memory)", j.User.Name, api.FormatSize(u.memory), api.FormatSize(j.Memory), api.FormatSize(q.RunningMemoryBytes)), false
		case q.RunningGPUs > 0 && j.GPU > 0 && u.gpus+j.GPU > q.RunningGPUs:
			return fmt.Sprintf("%s runs %d GPU(s); with this job's %d that passes the quota of %d (quota.running_gpus)", j.User.Name, u.gpus, j.GPU, q.RunningGPUs), false
		}
		if q.CPUHours > 0 {
			if used := a.window.hours(userKey(j.User.UID), now); used >= q.CPUHours {
				return fmt.Sprintf("quota reached: %s used %.1f of %g core-hours in the last %s (quota.cpu_hours)", j.User.Name, used, q.CPUHours, q.Window), true
			}
		}
	}
	name := projectOf(j)
	q := pq[name]
	if q == nil {
		return "", false
	}
	u := a.projectUse[name]
	switch {
	case q.RunningJobs > 0 && u.jobs+1 > q.RunningJobs:
		return fmt.Sprintf("project %s runs %d job(s), its quota of %d at once", name, u.jobs, q.RunningJobs), false
	case q.RunningCPU > 0 && u.cpu+j.CPU > q.RunningCPU+1e-9:
		return fmt.Sprintf("project %s runs %g cpu; with this job's %g that passes its quota of %g", name, u.cpu, j.CPU, q.RunningCPU), false
	case q.RunningMemory > 0 && u.memory+j.Memory > q.RunningMemory:
		return fmt.Sprintf("project %s runs %s; with this job's %s that passes its quota of %s", name, api.FormatSize(u.memory), api.FormatSize(j.Memory), api.FormatSize(q.RunningMemory)), false
	case q.RunningGPUs > 0 && j.GPU > 0 && u.gpus+j.GPU > q.RunningGPUs:
		return fmt.Sprintf("project %s runs %d GPU(s); with this job's %d that passes its quota of %d", name, u.gpus, j.GPU, q.RunningGPUs), false
	}
	if q.CPUHours > 0 {
		if used := a.window.hours(projectKey(name), now); used >= q.CPUHours {
			return fmt.Sprintf("quota reached: project %s used %.1f of %g core-hours in the last %s", name, used, q.CPUHours, a.cfg.Quota.Window), true
		}
	}
	return "", false
}

// book records the resources of a running job (adopted or reconciled).
func (a *Agent) book(j *job.Job) {
	a.mu.Lock()
	a.bookLocked(j)
	a.mu.Unlock()
}

func (a *Agent) bookLocked(j *job.Job) {
	if _, ok := a.reserved[j.ID]; !ok {
		r := reservation{Capacity: executor.Capacity{CPU: j.CPU, Memory: j.Memory, GPUs: j.GPU}, parent: j.ParentID, uid: j.User.UID, user: j.User.Name, project: projectOf(j), started: time.Now(), owner: j.User, lifespan: j.MaxLifespan}
		if j.Dates.Started != nil {
			r.started = *j.Dates.Started
		}
		a.reserved[j.ID] = r
		a.used.CPU += r.CPU
		a.used.Memory += r.Memory
		a.used.GPUs += r.GPUs
		a.userUse[r.uid] = a.userUse[r.uid].plus(r.Capacity, 1)
		a.projectUse[r.project] = a.projectUse[r.project].plus(r.Capacity, 1)
		if j.ParentID != 0 {
			a.arrayActive[j.ParentID]++
		}
	}
	if j.Running() && j.MaxLifespan > 0 && j.Dates.Started != nil {
		a.deadlines[j.ID] = j.Dates.Started.Add(j.MaxLifespan)
	}
}

// reservation is what a running or dispatching job holds.
type reservation struct {
	executor.Capacity
	parent  int64  // array parent, for throttles
	uid     int    // owner, for fair share
	user    string // owner's name, for the usage ledger's view
	project string // for project quotas
	// started, owner and lifespan feed start-time estimates.
	started  time.Time
	owner    api.User
	lifespan time.Duration
}

func (a *Agent) release(id int64) {
	a.mu.Lock()
	if r, ok := a.reserved[id]; ok {
		delete(a.reserved, id)
		a.used.CPU -= r.CPU
		a.used.Memory -= r.Memory
		a.used.GPUs -= r.GPUs
		neg := executor.Capacity{CPU: -r.CPU, Memory: -r.Memory, GPUs: -r.GPUs}
		if u := a.userUse[r.uid]; u.jobs <= 1 {
			delete(a.userUse, r.uid)
		} else {
			a.userUse[r.uid] = u.plus(neg, -1)
		}
		if p := a.projectUse[r.project]; p.jobs <= 1 {
			delete(a.projectUse, r.project)
		} else {
			a.projectUse[r.project] = p.plus(neg, -1)
		}
		if r.parent != 0 {
			if a.arrayActive[r.parent]--; a.arrayActive[r.parent] <= 0 {
				delete(a.arrayActive, r.parent)
			}
		}
	}
	delete(a.deadlines, id)
	delete(a.killDeadlines, id)
	a.mu.Unlock()
}

// dispatch starts one job. The container name is derived from the job id,
// so if the agent dies anywhere in here the restart adopts the container
// instead of starting a second one.
//
// engineDone is called once the engine call has returned, before the
// dispatch is durably recorded: a slot held through that store write would
// cap each group commit at maxConcurrentDispatch jobs.
func (a *Agent) dispatch(ctx context.Context, j *job.Job, engineDone func()) {
	log := a.schedLog.With("job_id", j.ID, "user", j.User.Name)
	if err := a.veto(ctx, j); err != nil {
		engineDone()
		a.release(j.ID)
		log.Info("job may not run now", "reason", err)
		a.holdPending(ctx, j.ID, "may not run now: "+err.Error())
		return
	}
	task, err := a.prepare(j)
	var st *executor.State
	if err == nil {
		st, err = a.startPinned(ctx, task)
	}
	engineDone()
	if err != nil {
		a.release(j.ID)
		if errors.Is(err, executor.ErrPermanent) || isPrepareError(err) {
			log.Warn("job cannot start", "error", err)
			a.endPending(ctx, j.ID, api.SecondaryFailed, err.Error())
			return
		}
		log.Warn("dispatch failed, will retry", "error", err)
		a.holdPending(ctx, j.ID, "dispatch failed, retrying: "+err.Error())
		return
	}
	a.mu.Lock()
	delete(a.backoff, j.ID)
	a.mu.Unlock()
	failpoint.Hit(failpoint.AfterStart)
	a.adoptFrom(ctx, j, j.ID, st)
}

// startPinned starts the task with the paths its user can change pinned
// (agent/pin) where the engine binds this host's paths: what the engine
// binds is what prepare checked, whatever the user swaps meanwhile. The
// staging mounts go once the container has its own.
func (a *Agent) startPinned(ctx context.Context, t *executor.Task) (*executor.State, error) {
	if a.pins == nil || !executor.Has(a.exec.Capabilities(), executor.CapLocalMounts) {
		return a.exec.Start(ctx, t)
	}
	var idx []int
	var sources []string
	for i, m := range t.Mounts {
		if m.UserPath {
			idx = append(idx, i)
			sources = append(sources, m.Source)
		}
	}
	if len(idx) == 0 {
		return a.exec.Start(ctx, t)
	}
	set, staged, err := a.pins.Pin(t.JobID, sources)
	if errors.Is(err, pin.ErrChanged) {
		return nil, &prepareError{fmt.Errorf("a volume changed while it was being mounted: %w; GoDocker follows no link it did not check", err)}
	}
	if err != nil {
		return nil, err
	}
	defer set.Release()
	pinned := *t
	pinned.Mounts = slices.Clone(t.Mounts)
	for k, i := range idx {
		pinned.Mounts[i].Source = staged[k]
	}
	return a.exec.Start(ctx, &pinned)
}

// isPrepareError reports errors of the job itself (a missing home, an
// unknown volume) that retrying will not fix.
func isPrepareError(err error) bool {
	var pe *prepareError
	return errors.As(err, &pe)
}

type prepareError struct{ err error }

func (e *prepareError) Error() string { return e.err.Error() }
func (e *prepareError) Unwrap() error { return e.err }

// adopt records that the job's container exists (after a dispatch or, at
// start-up, for a container found without a running job), then finalizes
// it at once if it has already ended.
func (a *Agent) adopt(ctx context.Context, id int64, st *executor.State) {
	a.adoptFrom(ctx, nil, id, st)
}

// adoptFrom is adopt starting from known, the job as the queue held it when
// it was dispatched (see mutateFrom); known may be nil.
func (a *Agent) adoptFrom(ctx context.Context, known *job.Job, id int64, st *executor.State) {
	j, _, err := a.mutateFrom(ctx, id, known, func(j *job.Job) bool {
		if !j.Pending() || j.Held {
			return false // stopped or held while being dispatched: it must not run
		}
		started := st.StartedAt
		if started.IsZero() {
			started = time.Now()
		}
		j.MarkRunning(api.Container{Executor: a.exec.Name(), ID: st.ID, Name: st.Name, Node: st.Node, Links: st.Links}, started)
		j.JobDir = a.dirOf(j)
		return true
	})
	switch {
	case err != nil:
		// The container may run (or have run) unrecorded: free the slot
		// and try again later; the next dispatch finds the container (its
		// name is the job's) and records it, never starting another.
		a.schedLog.Error("recording dispatch failed, will retry", "job_id", id, "error", err)
		a.release(id)
		a.mu.Lock()
		a.backoff[id] = time.Now().Add(time.Second)
		a.mu.Unlock()
		a.Wake()
		return
	case !j.Running():
		// Stopped or held while being dispatched: the container must not
		// outlive that.
		_ = a.exec.Kill(ctx, id)
		_ = a.exec.Remove(ctx, id)
		a.returnFiles(j)
		a.release(id)
	case j.KillRequested:
		_ = a.exec.Kill(ctx, id)
	case !st.Running:
		a.finalize(ctx, id)
	default:
		a.book(j)
		a.schedLog.Debug("job running", "job_id", id, "user", j.User.Name, "container", st.Name)
		failpoint.Hit(failpoint.AfterRecordStart)
	}
}

// endPending ends a pending job that can never run.
func (a *Agent) endPending(ctx context.Context, id int64, secondary, reason string) {
	_, _, err := a.mutate(ctx, id, func(j *job.Job) bool {
		if !j.Pending() {
			return false
		}
		a.returnFiles(j)
		j.MarkOver(nil, secondary, reason, time.Now())
		return true
	})
	if err != nil {
		a.schedLog.Error("ending job", "job_id", id, "error", err)
	}
}

// holdPending keeps a job pending with the reason and retries it later.
func (a *Agent) holdPending(ctx context.Context, id int64, reason string) {
	a.mu.Lock()
	a.backoff[id] = time.Now().Add(5 * time.Second)
	a.mu.Unlock()
	_, _, _ = a.mutate(ctx, id, func(j *job.Job) bool {
		if !j.Pending() || j.Status.Reason == reason {
			return false
		}
		j.Status.Reason = reason
		return true
	})
	a.Wake()
}

// mutate applies change to the stored job, re-reading and retrying when
// another writer got there first. change returns false to leave it as is.
// It returns the job as stored afterwards, changed or not, so callers need
// not read it again, and whether this call's change is the one stored: the
// store's version check is the compare-and-set that one writer wins, so
// effects that must happen once (an end recorded, a job counted as lost)
// follow wrote, never a flag set inside change (an attempt that lost the
// race has run change too).
func (a *Agent) mutate(ctx context.Context, id int64, change func(*job.Job) bool) (j *job.Job, wrote bool, err error) {
	return a.mutateFrom(ctx, id, nil, change)
}

// mutateFrom is mutate whose first attempt starts from known, a copy of the
// job as this agent last stored it, instead of reading the store: on the
// dispatch path that read cost as much as the update. Update's version
// check makes the result the same as reading first: a stale copy ends in
// ErrConflict and the retry reads the store. A copy that declines the
// change is checked against the store too. known is not modified.
func (a *Agent) mutateFrom(ctx context.Context, id int64, known *job.Job, change func(*job.Job) bool) (*job.Job, bool, error) {
	for {
		var j *job.Job
		fromCopy := known != nil && known.ID == id
		if fromCopy {
			j, known = known.Clone(), nil
		} else {
			var err error
			if j, err = a.store.Get(ctx, id); err != nil {
				return nil, false, err
			}
		}
		before := j.Clone()
		if !change(j) {
			if fromCopy {
				continue // decide on the stored job, not on a copy
			}
			return before, false, nil // change may have touched j before declining
		}
		err := a.store.Update(ctx, j)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		a.queued(j)
		a.changes.notify()
		if !before.Over() && j.Over() {
			a.ended(ctx, j)
		}
		return j, true, nil
	}
}

// countFinishedLocked adds a finished job to what the agent learns from
// finished jobs: the fair-share ledger, the quota window and run times.
func (a *Agent) countFinishedLocked(j *job.Job) {
	a.ledger.charge(j)
	a.window.charge(j)
	a.runtimes.observe(j)
}

// ended runs once when a job reaches over: an array learns that one more
// task is done, and jobs waiting on this one may now be decided.
func (a *Agent) ended(ctx context.Context, j *job.Job) {
	a.mu.Lock()
	a.countFinishedLocked(j)
	a.mu.Unlock()
	if j.ParentID != 0 {
		a.taskOver(ctx, j.ParentID)
	}
	a.Wake()
}

// queued keeps the in-memory queue of pending jobs in step with the store:
// every change goes through Submit or mutate, so the scheduler never has to
// read the whole queue back from the store.
func (a *Agent) queued(j *job.Job) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, was := a.queue[j.ID]
	if j.Pending() {
		if !was {
			a.pendingByUID[j.User.UID]++
		}
		a.queue[j.ID] = j
		return
	}
	if was {
		if a.pendingByUID[j.User.UID]--; a.pendingByUID[j.User.UID] <= 0 {
			delete(a.pendingByUID, j.User.UID)
		}
	}
	delete(a.queue, j.ID)
	delete(a.backoff, j.ID)
}

// loadQueue fills the queue from the store at start-up.
func (a *Agent) loadQueue(ctx context.Context) error {
	pending, err := a.store.List(ctx, store.Filter{States: []string{api.StatePending}, Ascending: true})
	if err != nil {
		return err
	}
	for _, j := range pending {
		a.queued(j)
	}
	return nil
}
