// Package fairshare orders pending jobs so that users share the machine:
// the user with the least decayed past usage goes first, and the jobs
// planned in one pass count against their user as they are planned, so
// users' jobs interleave instead of one user's whole backlog going first.
package fairshare

import (
	"cmp"
	"container/heap"
	"context"
	"slices"

	"github.com/godocker/god/plugins/scheduler"
)

// DefaultPlanSeconds is how much usage one planned core counts for while
// ordering: an hour of it.
const DefaultPlanSeconds = 3600

// Scheduler is the fair-share policy.
type Scheduler struct {
	// PlanSeconds is the usage a planned or running core adds to its user
	// while ordering (default one hour).
	PlanSeconds float64
}

var _ scheduler.Scheduler = Scheduler{}

// Name implements scheduler.Scheduler.
func (Scheduler) Name() string { return "fairshare" }

// Order implements scheduler.Scheduler.
func (s Scheduler) Order(_ context.Context, snap *scheduler.Snapshot) ([]scheduler.Decision, error) {
	plan := s.PlanSeconds
	if plan <= 0 {
		plan = DefaultPlanSeconds
	}
	// Each user's jobs get an exact run of one backing array: growing
	// per-user slices (allocation, not ordering) dominated the pass.
	counts := map[int]int{}
	for _, j := range snap.Pending {
		counts[j.UID]++
	}
	backing := make([]scheduler.Job, len(snap.Pending))
	runs := make(map[int][]scheduler.Job, len(counts))
	off := 0
	for uid, n := range counts {
		runs[uid] = backing[off : off : off+n]
		off += n
	}
	for _, j := range snap.Pending {
		runs[j.UID] = append(runs[j.UID], j)
	}
	q := make(users, 0, len(runs))
	for uid, jobs := range runs {
		slices.SortFunc(jobs, func(a, b scheduler.Job) int { return cmp.Compare(a.ID, b.ID) })
		q = append(q, &user{uid: uid, jobs: jobs, projected: snap.Usage[uid] + snap.Running[uid]*plan})
	}
	heap.Init(&q)
	out := make([]scheduler.Decision, 0, len(snap.Pending))
	for q.Len() > 0 {
		u := q[0]
		j := u.jobs[0]
		// One shared reason: formatting numbers per job would cost more
		// than the ordering; `god usage` shows them.
		out = append(out, scheduler.Decision{JobID: j.ID, Reason: reason})
		u.jobs = u.jobs[1:]
		u.projected += j.CPU * plan
		if len(u.jobs) == 0 {
			heap.Pop(&q)
		} else {
			heap.Fix(&q, 0)
		}
	}
	return out, nil
}

const reason = "fair share: the user with the least usage (past, running and planned) first"

type user struct {
	uid       int
	jobs      []scheduler.Job
	projected float64
}

// users is a min-heap on projected usage, then on the head job's id (the
// older job first), so equal users alternate.
type users []*user

func (u users) Len() int { return len(u) }
func (u users) Less(i, j int) bool {
	if u[i].projected != u[j].projected {
		return u[i].projected < u[j].projected
	}
	return u[i].jobs[0].ID < u[j].jobs[0].ID
}
func (u users) Swap(i, j int) { u[i], u[j] = u[j], u[i] }
func (u *users) Push(x any)   { *u = append(*u, x.(*user)) }
func (u *users) Pop() any {
	old := *u
	x := old[len(old)-1]
	*u = old[:len(old)-1]
	return x
}
