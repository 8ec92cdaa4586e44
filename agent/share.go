package agent

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"sync"
	"time"

	"github.com/godocker/god/agent/cluster"
	"github.com/godocker/god/job"
)

// Watchers share the work of finalizing jobs in a cluster: every agent with
// the watcher role follows the engine's events and finalizes the jobs that
// rendezvous hashing gives it among the healthy watchers (inspect the
// container, return a root job's files, record the end, remove the
// container). The leader follows every event too: it finalizes its own
// share and, for the others', waits for the record to say over and then
// frees what the job held. The store's compare-and-set makes sure a job is
// finalized once even when two agents disagree for a moment about who the
// watchers are; if the owner never records the end, the leader does it
// after endGrace.

// endGrace is how long the leader leaves a job's end to its owner.
const endGrace = 10 * time.Second

// watcherRefresh is how often the list of healthy watchers is read.
const watcherRefresh = 2 * time.Second

// watchers is the healthy watchers as last read from Consul.
type watchers struct {
	mu    sync.Mutex
	names []string
}

func (w *watchers) set(names []string) {
	w.mu.Lock()
	w.names = names
	w.mu.Unlock()
}

// owner is the watcher that finalizes job id: the highest hash of (name,
// id), so a watcher joining or leaving moves only its own share.
func (w *watchers) owner(id int64) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	best, bestHash := "", uint64(0)
	for _, n := range w.names {
		// FNV would favour some names: similar inputs hash alike.
		sum := sha256.Sum256([]byte(n + "\x00" + strconv.FormatInt(id, 10)))
		if v := binary.BigEndian.Uint64(sum[:8]); best == "" || v > bestHash {
			best, bestHash = n, v
		}
	}
	return best
}

// followWatchers keeps the list of healthy watchers fresh until ctx ends.
func (a *Agent) followWatchers(ctx context.Context) {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, watcherRefresh)
		names, err := a.cluster.Healthy(rctx, cluster.RoleWatcher)
		cancel()
		if err == nil {
			a.watchers.set(names)
		} else if ctx.Err() == nil {
			a.watchLog.Warn("reading the healthy watchers", "error", err)
		}
		sleep(ctx, watcherRefresh)
	}
}

// mine tells whether this agent finalizes job id. Outside a cluster, and
// when no watcher is known, the leader does everything.
func (a *Agent) mine(id int64) bool {
	if a.cluster == nil {
		return true
	}
	owner := a.watchers.owner(id)
	if owner == "" {
		return a.leading.Load()
	}
	return owner == a.cluster.Name()
}

// shareLoop is the watcher of an agent that does not lead: it finalizes
// its share of the jobs that end. The leader's reconciliation catches what
// it misses.
func (a *Agent) shareLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if a.leading.Load() {
			sleep(ctx, time.Second) // the leader's own watch loop runs
			continue
		}
		// The subscription ends with the loop, or once this agent leads:
		// the leader's watch loop takes over.
		sub, cancel := context.WithCancel(ctx)
		events, err := a.exec.Events(sub)
		if err != nil {
			cancel()
			a.watchLog.Error("subscribing to engine events", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		for ev := range events {
			if a.leading.Load() {
				break
			}
			if a.mine(ev.JobID) {
				go a.finalize(ctx, ev.JobID)
			}
		}
		cancel()
		sleep(ctx, time.Second)
	}
}

// awaitEnd is the leader's side of a job another watcher finalizes: once
// the record says over, free what the job held and let the scheduler use
// it; past endGrace, finalize it here.
func (a *Agent) awaitEnd(ctx context.Context, id int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endGrace+time.Minute)
	defer cancel()
	deadline := time.Now().Add(endGrace)
	wait := 20 * time.Millisecond
	owner := a.watchers.owner(id)
	for {
		j, err := a.store.Get(ctx, id)
		if err != nil {
			a.watchLog.Error("reading a job another watcher finalizes", "job_id", id, "error", err)
			return
		}
		switch {
		case !j.Running():
			a.endedElsewhere(ctx, j)
			return
		case j.RescheduleRequested && !j.KillRequested, time.Now().After(deadline), a.watchers.owner(id) != owner:
			// Reruns change the queue: the leader's business. An owner
			// that left the healthy watchers, or does not record the end
			// in time, is taken to be gone.
			a.finalizeHere(ctx, id)
			return
		}
		sleep(ctx, wait)
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// endedElsewhere frees what a job finalized by another watcher held, once.
func (a *Agent) endedElsewhere(ctx context.Context, j *job.Job) {
	a.mu.Lock()
	_, held := a.reserved[j.ID]
	a.mu.Unlock()
	if !held {
		return // already accounted for
	}
	a.release(j.ID)
	a.queued(j)
	a.changes.notify()
	if j.Over() {
		a.ended(ctx, j)
	}
	a.Wake()
}
