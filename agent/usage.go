package agent

import (
	"context"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/fairshare"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/plugins/scheduler/godocker"
	"github.com/godocker/god/store"
)

// ledger is the usage each user, project and group has had, fading by
// half every half-life (as Slurm's and HTCondor's fair share): core-,
// GiB- and GPU-seconds. It is rebuilt from the job records at start-up,
// so it needs no storage of its own. Callers hold a.mu.
type ledger struct {
	halfLife  time.Duration
	memWeight float64 // core-seconds per GiB-second
	gpuWeight float64 // core-seconds per GPU-second
	users     map[int]*account
	projects  map[string]*account
	groups    map[int]*account // by the owner's primary gid
}

// account is one user's, project's or group's decayed usage.
type account struct {
	name          string    // a user's login; "" for projects and groups
	cpu, mem, gpu float64   // core-, GiB- and GPU-seconds, as of at
	at            time.Time // when they were last decayed
}

// usageAmounts is an account's decayed usage at some time: core-seconds,
// GiB-seconds, GPU-seconds, and the three folded into core-seconds by the
// site's weights (what fair share compares).
type usageAmounts struct {
	CPU, Memory, GPU, Effective float64
}

func newLedger(halfLife time.Duration, memWeight, gpuWeight float64) *ledger {
	return &ledger{
		halfLife: halfLife, memWeight: memWeight, gpuWeight: gpuWeight,
		users: map[int]*account{}, projects: map[string]*account{}, groups: map[int]*account{},
	}
}

// factor is how much of a usage at `from` remains at `to`.
func (l *ledger) factor(from, to time.Time) float64 {
	if l.halfLife <= 0 || !to.After(from) {
		return 1
	}
	return math.Exp2(-to.Sub(from).Seconds() / l.halfLife.Seconds())
}

// charge adds what a finished job used, as of when it ended, to its owner,
// its project and its owner's primary group.
func (l *ledger) charge(j *job.Job) {
	if j.IsArray() || j.Dates.Started == nil || j.Dates.Ended == nil {
		return
	}
	secs := j.Dates.Ended.Sub(*j.Dates.Started).Seconds()
	if secs <= 0 {
		return
	}
	ended := *j.Dates.Ended
	cpu, mem, gpu := j.CPU*secs, float64(j.Memory)/(1<<30)*secs, float64(j.GPU)*secs
	u := accountIn(l.users, j.User.UID, ended)
	u.name = j.User.Name
	l.add(u, ended, cpu, mem, gpu)
	l.add(accountIn(l.projects, projectOf(j), ended), ended, cpu, mem, gpu)
	l.add(accountIn(l.groups, j.User.GID, ended), ended, cpu, mem, gpu)
}

func accountIn[K comparable](m map[K]*account, k K, at time.Time) *account {
	a := m[k]
	if a == nil {
		a = &account{at: at}
		m[k] = a
	}
	return a
}

// add charges usage as of ended: it brings the older of the account and
// the usage to the newer's time, then adds.
func (l *ledger) add(a *account, ended time.Time, cpu, mem, gpu float64) {
	f := 1.0
	if ended.After(a.at) {
		k := l.factor(a.at, ended)
		a.cpu, a.mem, a.gpu, a.at = a.cpu*k, a.mem*k, a.gpu*k, ended
	} else {
		f = l.factor(ended, a.at)
	}
	a.cpu += cpu * f
	a.mem += mem * f
	a.gpu += gpu * f
}

// amounts is a's decayed usage now (zero for a nil account).
func (l *ledger) amounts(a *account, now time.Time) usageAmounts {
	if a == nil {
		return usageAmounts{}
	}
	k := l.factor(a.at, now)
	u := usageAmounts{CPU: a.cpu * k, Memory: a.mem * k, GPU: a.gpu * k}
	u.Effective = u.CPU + l.memWeight*u.Memory + l.gpuWeight*u.GPU
	return u
}

// user, project and group are the decayed usage of one account now.
func (l *ledger) user(uid int, now time.Time) usageAmounts {
	return l.amounts(l.users[uid], now)
}

func (l *ledger) project(name string, now time.Time) usageAmounts {
	return l.amounts(l.projects[name], now)
}

func (l *ledger) group(gid int, now time.Time) usageAmounts {
	return l.amounts(l.groups[gid], now)
}

// hours turns seconds into the API's hours.
func (u usageAmounts) hours() (cpu, mem, gpu, eff float64) {
	return u.CPU / 3600, u.Memory / 3600, u.GPU / 3600, u.Effective / 3600
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
	running := map[int]executor.Capacity{}
	uids := map[int]string{}
	for _, r := range a.reserved {
		c := running[r.uid]
		c.CPU += r.CPU
		c.GPUs += r.GPUs
		running[r.uid] = c
		uids[r.uid] = r.user
	}
	for uid, acc := range a.ledger.users {
		uids[uid] = acc.name
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
		e := &api.UsageEntry{
			User: name, UID: uid,
			RunningCPU: running[uid].CPU, RunningGPUs: running[uid].GPUs, Pending: a.pendingByUID[uid],
			WindowCPUHours: a.window.hours(userKey(uid), now),
		}
		e.CPUHours, e.MemoryGiBHours, e.GPUHours, e.EffectiveHours = a.ledger.user(uid, now).hours()
		out = append(out, e)
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
	out := &api.ProjectUsage{
		Project: name, Priority: p.Priority, Quota: p.Quota,
		RunningJobs: u.jobs, RunningCPU: u.cpu, RunningMemory: u.memory, RunningGPUs: u.gpus,
		WindowCPUHours: a.window.hours(projectKey(name), now), Window: a.cfg.Quota.Window,
	}
	out.CPUHours, out.MemoryGiBHours, out.GPUHours, out.EffectiveHours = a.ledger.project(name, now).hours()
	return out, nil
}

// GroupUsage shows the decayed usage of a group (its name or gid): the
// jobs of the users whose primary group it is. For the group's members
// and admins.
func (a *Agent) GroupUsage(ctx context.Context, caller *api.Caller, group string) (*api.GroupUsage, error) {
	gid, err := strconv.Atoi(group)
	name := group
	if err != nil {
		if gid, err = identity.GroupID(group); err != nil {
			return nil, errorf(http.StatusNotFound, "group %q: %v; give a group name or a gid", group, err)
		}
	} else {
		name = identity.GroupName(gid)
	}
	if !caller.Admin && caller.GID != gid && !slices.Contains(caller.Groups, gid) {
		return nil, errorf(http.StatusForbidden, "permission denied: you are not in group %s; only its members and admins see its usage", group)
	}
	a.mu.Lock()
	u := a.ledger.group(gid, time.Now())
	a.mu.Unlock()
	out := &api.GroupUsage{Group: name, GID: gid}
	out.CPUHours, out.MemoryGiBHours, out.GPUHours, out.EffectiveHours = u.hours()
	return out, nil
}
