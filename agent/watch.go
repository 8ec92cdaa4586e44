package agent

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/failpoint"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/store"
)

// reconcileEvery is the safety net behind the engine's event stream: a
// missed event is caught within this period. It is not on the critical path.
const reconcileEvery = 30 * time.Second

// watchLoop follows the engine's events and finalizes jobs whose container
// stopped. When the stream breaks it reconciles and subscribes again.
func (a *Agent) watchLoop(ctx context.Context) {
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	for ctx.Err() == nil {
		events, err := a.exec.Events(ctx)
		if err != nil {
			a.watchLog.Error("subscribing to engine events", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		// Anything that ended between two subscriptions is caught here.
		if err := a.reconcile(ctx); err != nil && ctx.Err() == nil {
			a.watchLog.Error("reconcile failed", "error", err)
		}
	stream:
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					break stream
				}
				a.finalize(ctx, ev.JobID)
			case <-tick.C:
				if err := a.reconcile(ctx); err != nil && ctx.Err() == nil {
					a.watchLog.Error("reconcile failed", "error", err)
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		a.watchLog.Warn("engine event stream closed, reconnecting")
		sleep(ctx, time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// reconcile brings the store and the engine into agreement: containers of
// pending jobs are adopted (the agent died between start and record),
// running jobs whose container ended are finalized with their real exit
// code, kills asked before a crash are carried out, and containers of
// finished jobs are removed.
func (a *Agent) reconcile(ctx context.Context) error {
	// Store first, engine second: a job dispatched in between shows up as
	// a pending job with a container (skipped: its dispatch is in flight),
	// never as a running job without one.
	running, err := a.store.List(ctx, store.Filter{States: []string{api.StateRunning}})
	if err != nil {
		return err
	}
	states, err := a.exec.List(ctx)
	if err != nil {
		return err
	}
	byJob := make(map[int64]*executor.State, len(states))
	for _, st := range states {
		// A job may have two: its own, and one of the old naming that
		// another store left (see ownedBy).
		if prev, ok := byJob[st.JobID]; !ok || prev.Legacy {
			byJob[st.JobID] = st
		}
	}
	for _, j := range running {
		if j.IsArray() {
			continue // an array runs no container
		}
		st, ok := byJob[j.ID]
		delete(byJob, j.ID)
		if ok && !a.ownedBy(j, st) {
			ok = false
		}
		switch {
		case !ok:
			a.lost(ctx, j.ID, "")
		case !st.Running:
			a.finalize(ctx, j.ID)
		default:
			a.book(j)
			a.carryOutKill(ctx, j)
		}
	}
	for id, st := range byJob {
		a.mu.Lock()
		_, dispatching := a.reserved[id]
		a.mu.Unlock()
		if dispatching {
			continue // a dispatch in flight will record it
		}
		j, err := a.store.Get(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			a.watchLog.Warn("container of an unknown job left alone", "job_id", id, "container", st.Name)
		case err != nil:
			return err
		case !a.ownedBy(j, st):
			// Not this job's: leave it alone.
		case j.Pending() && !st.Running && st.StartedAt.IsZero():
			// Created but never started (the agent died in between, maybe
			// with the engine still starting it): the job's next dispatch
			// starts that container, as the engine starts one only once;
			// removing it here could kill a run just begun.
			a.Wake()
		case j.Pending():
			a.watchLog.Info("adopting container started before a restart", "job_id", id)
			a.adopt(ctx, id, st)
		case j.Over() && !st.Running:
			_ = a.exec.Remove(ctx, id)
		case j.Over():
			_ = a.exec.Kill(ctx, id)
		}
	}
	return nil
}

// carryOutKill carries out a stop or a reschedule asked for a running job,
// before a restart as well: SIGKILL at once, or, within a stop's kill
// timeout, SIGTERM (again, if this agent did not send it) with SIGKILL at
// the deadline.
func (a *Agent) carryOutKill(ctx context.Context, j *job.Job) {
	if !j.KillRequested && !j.RescheduleRequested {
		return
	}
	if j.KillRequested && j.KillDeadline != nil && !j.KillForced && time.Now().Before(*j.KillDeadline) {
		a.mu.Lock()
		_, sent := a.killDeadlines[j.ID]
		a.mu.Unlock()
		if !sent {
			a.stopUntil(ctx, j.ID, *j.KillDeadline)
		}
		return
	}
	if j.KillRequested && j.KillDeadline != nil && !j.KillForced {
		a.forceKill(ctx, j.ID)
		return
	}
	if err := a.exec.Kill(ctx, j.ID); err != nil {
		a.watchLog.Warn("kill failed, will retry", "job_id", j.ID, "error", err)
	}
}

// ownedBy tells whether st is job j's container: made for its owner, as
// its store (the executor saw to that) and, for a container of the old
// naming, running as the job runs. Another's is left alone, never adopted
// nor removed, and reported once.
func (a *Agent) ownedBy(j *job.Job, st *executor.State) bool {
	runAs := j.User.UID
	if j.Spec.Root {
		runAs = 0
	}
	if st.OwnedBy(j.User.UID, runAs) {
		return true
	}
	if _, seen := a.foreign.LoadOrStore(st.ID, struct{}{}); !seen {
		a.watchLog.Warn("container of another user left alone (neither adopted nor removed)", "job_id", j.ID,
			"container", st.Name, "container_owner", st.Owner, "job_owner", j.User.UID, "legacy_name", st.Legacy)
	}
	return false
}

// lost ends a running job whose container vanished outside GoDocker.
//
// why says what became of the container, when the executor knows; empty,
// the container disappeared.
func (a *Agent) lost(ctx context.Context, id int64, why string) {
	if a.rerun(ctx, id, cmp.Or(why, "the engine lost the container")) {
		return
	}
	j, recorded, err := a.mutate(ctx, id, func(j *job.Job) bool {
		if !j.Running() {
			return false // finalized meanwhile: not lost
		}
		a.returnFiles(j)
		j.MarkOver(nil, api.SecondaryLost, cmp.Or(why, "the container disappeared from the engine")+"; its exit code is unknown", time.Now())
		return true
	})
	if err != nil {
		a.watchLog.Error("recording lost job", "job_id", id, "error", err)
	}
	if recorded {
		a.watchLog.Warn("container of a running job disappeared", "job_id", id)
	}
	if err == nil && !recorded && j.Over() {
		// Another watcher of the cluster finalized it and removed its
		// container between our two looks.
		a.endedElsewhere(ctx, j)
		return
	}
	a.release(id)
	a.Wake()
}

// finalize records the end of a job whose container stopped, then removes
// the container. The record is durable before the container goes, so the
// exit code is never lost.
// In a cluster, the job's owner among the watchers does it (share.go).
func (a *Agent) finalize(ctx context.Context, id int64) {
	if _, busy := a.finalizing.LoadOrStore(id, struct{}{}); busy {
		return
	}
	if !a.mine(id) {
		if !a.leading.Load() {
			a.finalizing.Delete(id)
			return
		}
		go func() {
			defer a.finalizing.Delete(id)
			a.awaitEnd(ctx, id)
		}()
		return
	}
	defer a.finalizing.Delete(id)
	a.finalizeHere(ctx, id)
}

// finalizeHere is finalize's work; the caller holds the job's finalizing
// entry. An agent that does not lead only records plain ends: losses,
// reruns and requeues change the queue, which is the leader's.
func (a *Agent) finalizeHere(ctx context.Context, id int64) {
	leader := a.IsLeader()
	// Finish what was begun even if the agent is shutting down.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	st, err := a.exec.Inspect(ctx, id)
	if errors.Is(err, executor.ErrNotFound) {
		if j, gerr := a.store.Get(ctx, id); gerr == nil && j.Running() && leader {
			a.lost(ctx, id, "")
		}
		return
	}
	if err != nil {
		a.watchLog.Error("inspecting finished container", "job_id", id, "error", err)
		return
	}
	if st.Running {
		return
	}
	j, err := a.store.Get(ctx, id)
	if err != nil || !j.Running() {
		return
	}
	interrupted := st.Interrupted != "" && !j.KillRequested && !j.RescheduleRequested
	if !a.ownedBy(j, st) || st.Removing || interrupted {
		// Its own container is gone (or going, removed behind the agent's
		// back), or was stopped by someone else or by the engine stopping
		// (that signal is not the job's end), or what is left is another's.
		if !leader {
			return
		}
		why := ""
		if interrupted && !st.Removing && a.ownedBy(j, st) {
			// The container is the job's, ended: it goes first, or the
			// next look would take it for the retry's.
			if err := a.exec.Remove(ctx, id); err != nil {
				a.watchLog.Error("removing an interrupted job's container", "job_id", id, "error", err)
				return
			}
			why = st.Interrupted
		}
		a.lost(ctx, id, why)
		return
	}
	if !leader && !j.KillRequested && (st.Requeue || j.RescheduleRequested) {
		return
	}
	if st.Requeue && !j.KillRequested {
		// The engine could not place the job in time and gave it back:
		// it waits in GoDocker's queue again, with the engine's reason.
		if err := a.exec.Remove(ctx, id); err != nil {
			a.watchLog.Error("removing a job the engine gave back", "job_id", id, "error", err)
			return
		}
		a.requeue(ctx, id, st.Error)
		return
	}
	if j.RescheduleRequested && !j.KillRequested {
		// The container goes first: the next run needs its name. The store
		// still says running until then, so a crash here only repeats it.
		if err := a.exec.Remove(ctx, id); err != nil {
			a.watchLog.Error("removing container for a reschedule", "job_id", id, "error", err)
			return
		}
		a.rerun(ctx, id, "")
		return
	}
	// A root job's files go back to their owner before the user is told
	// the job is over.
	a.returnFiles(j)
	failpoint.Hit(failpoint.BeforeRecordEnd)
	_, recorded, err := a.mutate(ctx, id, func(j *job.Job) bool {
		if !j.Running() {
			return false
		}
		code := st.ExitCode
		secondary, reason := "", ""
		switch {
		case st.OOMKilled:
			secondary, reason = api.SecondaryFailed, "killed by the engine: out of memory (raise resources.memory)"
		case st.Error != "":
			secondary, reason = api.SecondaryFailed, st.Error
		}
		ended := st.FinishedAt
		if ended.IsZero() {
			ended = time.Now()
		}
		j.MarkOver(&code, secondary, reason, ended)
		return true
	})
	if err != nil {
		a.watchLog.Error("recording job end", "job_id", id, "error", err)
		return
	}
	if recorded {
		a.watchLog.Debug("recorded job end", "job_id", id, "exit_code", st.ExitCode)
		failpoint.Hit(failpoint.AfterRecordEnd)
	}
	if err := a.exec.Remove(ctx, id); err != nil {
		a.watchLog.Warn("removing container", "job_id", id, "error", err)
	}
	a.release(id)
	a.Wake()
}
