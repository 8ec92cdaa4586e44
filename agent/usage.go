package agent

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/fairshare"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/plugins/scheduler/godocker"
	"github.com/godocker/god/store"
)

// ledger is the usage each user has had, fading by half every half-life
// (as Slurm's and HTCondor's fair share). It is rebuilt from the job
// records at start-up, so it needs no storage of its own. Callers hold a.mu.
type ledger struct {
	halfLife  time.Duration
	memWeight float64 // core-seconds per GiB-second
	accounts  map[int]*account
}

type account struct {
	user     string
	cpu, mem float64   // core-seconds and GiB-seconds, as of at
	at       time.Time // when they were last decayed
}

func newLedger(halfLife time.Duration, memWeight float64) *ledger {
	return &ledger{halfLife: halfLife, memWeight: memWeight, accounts: map[int]*account{}}
}

// factor is how much of a usage at `from` remains at `to`.
func (l *ledger) factor(from, to time.Time) float64 {
	if l.halfLife <= 0 || !to.After(from) {
		return 1
	}
	return math.Exp2(-to.Sub(from).Seconds() / l.halfLife.Seconds())
}

// charge adds what a finished job used, as of when it ended.
func (l *ledger) charge(j *job.Job) {
	if j.IsArray() || j.Dates.Started == nil || j.Dates.Ended == nil {
		return
	}
	secs := j.Dates.Ended.Sub(*j.Dates.Started).Seconds()
	if secs <= 0 {
		return
	}
	a := l.accounts[j.User.UID]
	if a == nil {
		a = &account{at: *j.Dates.Ended}
		l.accounts[j.User.UID] = a
	}
	a.user = j.User.Name
	// Bring the older of the two to the newer's time, then add.
	ended, f := *j.Dates.Ended, 1.0
	if ended.After(a.at) {
		k := l.factor(a.at, ended)
		a.cpu, a.mem, a.at = a.cpu*k, a.mem*k, ended
	} else {
		f = l.factor(ended, a.at)
	}
	a.cpu += j.CPU * secs * f
	a.mem += float64(j.Memory) / (1 << 30) * secs * f
}

// usage is a user's decayed usage now: core-seconds, GiB-seconds, and the
// two folded into core-seconds.
func (l *ledger) usage(uid int, now time.Time) (cpu, mem, effective float64) {
	a := l.accounts[uid]
	if a == nil {
		return 0, 0, 0
	}
	k := l.factor(a.at, now)
	cpu, mem = a.cpu*k, a.mem*k
	return cpu, mem, cpu + l.memWeight*mem
}

// loadLedger counts every finished job found at start-up (see
// countFinishedLocked).
func (a *Agent) loadLedger(ctx context.Context) error {
	done, err := a.store.List(ctx, store.Filter{States: []string{api.StateOver, api.StateArchived}, Ascending: true})
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range done {
		a.countFinishedLocked(j)
	}
	return nil
}

// Usage shows the ledger: the caller's line, or everyone's for an admin.
func (a *Agent) Usage(ctx context.Context, caller *api.Caller) ([]*api.UsageEntry, error) {
	now := time.Now()
	a.mu.Lock()
	running := map[int]float64{}
	uids := map[int]string{}
	for _, r := range a.reserved {
		running[r.uid] += r.CPU
		uids[r.uid] = r.user
	}
	for uid, acc := range a.ledger.accounts {
		uids[uid] = acc.user
	}
	for _, j := range a.queue {
		uids[j.User.UID] = j.User.Name
	}
	out := []*api.UsageEntry{}
	for uid, name := range uids {
		if uid != caller.UID && !caller.Admin {
			continue
		}
		if uid == caller.UID {
			name = caller.Name
		}
		cpu, mem, eff := a.ledger.usage(uid, now)
		out = append(out, &api.UsageEntry{
			User: name, UID: uid,
			CPUHours: cpu / 3600, MemoryGiBHours: mem / 3600, EffectiveHours: eff / 3600,
			RunningCPU: running[uid], Pending: a.pendingByUID[uid],
			WindowCPUHours: a.window.hours(userKey(uid), now),
		})
	}
	a.mu.Unlock()
	// Priorities may read the store: not under the agent's lock.
	for _, e := range out {
		e.Priority = a.userPriority(ctx, e.User)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].EffectiveHours != out[j].EffectiveHours {
			return out[i].EffectiveHours < out[j].EffectiveHours
		}
		return out[i].UID < out[j].UID
	})
	return out, nil
}

// Policy returns the built-in scheduling policy the configuration names.
func Policy(c *config.Scheduler) scheduler.Scheduler {
	switch {
	case c != nil && c.Name == "fairshare":
		return fairshare.Scheduler{}
	case c != nil && c.Name == "godocker":
		w, _ := godocker.ParseWeights(c.Config) // checked by Finalize
		return godocker.Scheduler{Weights: w}
	}
	return fifo.Scheduler{}
}

// ProjectUsage shows what a project's jobs use now and over the quota
// window, against its quota: for its members and admins.
func (a *Agent) ProjectUsage(ctx context.Context, caller *api.Caller, name string) (*api.ProjectUsage, error) {
	p, err := a.Project(ctx, caller, name)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.projectUse[name]
	return &api.ProjectUsage{
		Project: name, Priority: p.Priority, Quota: p.Quota,
		RunningJobs: u.jobs, RunningCPU: u.cpu, RunningMemory: u.memory,
		WindowCPUHours: a.window.hours(projectKey(name), now), Window: a.cfg.Quota.Window,
	}, nil
}
