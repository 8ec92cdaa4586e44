package agent

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/store"
)

// priorityCache remembers users' priorities for a scheduling pass and a
// few seconds after: a pass over 100,000 jobs of 1,000 users must not read
// 1,000 accounts from the store each time. Users without an account have
// the default.
type priorityCache struct {
	mu sync.Mutex
	m  map[string]cachedPriority
}

type cachedPriority struct {
	prio int
	at   time.Time
}

// passPriorities are the priorities one pass uses.
type passPriorities struct {
	a        *Agent
	ctx      context.Context
	users    map[string]int
	projects map[string]int
}

// priorities returns a view of users' and projects' priorities for one pass.
func (a *Agent) priorities(ctx context.Context) *passPriorities {
	p := &passPriorities{a: a, ctx: ctx, users: map[string]int{}, projects: map[string]int{DefaultProject: defaultPriority}}
	if ps, err := a.projects(ctx); err == nil {
		for name, pr := range ps {
			p.projects[name] = pr.Priority
		}
	}
	return p
}

func (p *passPriorities) user(login string) int {
	if v, ok := p.users[login]; ok {
		return v
	}
	v := p.a.userPriority(p.ctx, login)
	p.users[login] = v
	return v
}

// compactJob is the record a policy sees of j, priorities left to fill.
func compactJob(j *job.Job) scheduler.Job {
	return scheduler.Job{
		ID: j.ID, UID: j.User.UID, User: j.User.Name, Submitted: j.Dates.Submitted, CPU: j.CPU, Memory: j.Memory, GPU: j.GPU,
		Project: projectOf(j), Group: groupKey(j.User.GID),
	}
}

// groupKeys are the gids in decimal, the group names of scheduler.Job and
// Snapshot.GroupUsage, made once per gid rather than once per job and pass.
// Read on every job of every pass, written once per new gid: copy on write.
var groupKeys atomic.Pointer[map[int]string]

func groupKey(gid int) string {
	if m := groupKeys.Load(); m != nil {
		if s, ok := (*m)[gid]; ok {
			return s
		}
	}
	s := strconv.Itoa(gid)
	for {
		old := groupKeys.Load()
		next := map[int]string{gid: s}
		if old != nil {
			next = maps.Clone(*old)
			next[gid] = s
		}
		if groupKeys.CompareAndSwap(old, &next) {
			return s
		}
	}
}

// fill sets the owner's and the project's priority of each record.
func (p *passPriorities) fill(jobs []scheduler.Job) {
	for i := range jobs {
		j := &jobs[i]
		pp, ok := p.projects[j.Project]
		if !ok {
			pp = defaultPriority // a deleted project
		}
		j.Priority, j.ProjectPriority = p.user(j.User), pp
	}
}

// userPriority is a user's priority, from their account, cached.
func (a *Agent) userPriority(ctx context.Context, login string) int {
	a.prios.mu.Lock()
	c, ok := a.prios.m[login]
	a.prios.mu.Unlock()
	if ok && time.Since(c.at) < accountCacheTTL {
		return c.prio
	}
	prio := defaultPriority
	acc, err := a.loadAccount(ctx, login)
	switch {
	case err == nil:
		prio = acc.Priority
	case !errors.Is(err, store.ErrNoRecord):
		a.schedLog.Warn("reading a user's priority", "user", login, "error", err)
	}
	a.prios.mu.Lock()
	a.prios.m[login] = cachedPriority{prio: prio, at: time.Now()}
	a.prios.mu.Unlock()
	return prio
}
