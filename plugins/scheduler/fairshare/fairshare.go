// Package fairshare orders pending jobs so that users share the machine:
// the user with the least decayed past usage goes first, and the jobs
// planned in one pass count against their user as they are planned, so
// users' jobs interleave instead of one user's whole backlog going first.
//
// Priorities weigh usage: a job's turn comes by its owner's projected
// usage divided by its weight, (user priority / 50) x (project priority /
// 50). Over time each user gets a share of the machine in proportion to
// their weight: a user at 75 gets three times what a user at 25 gets when
// both keep the queue full.
//
// Projects share too: the decayed past usage of the job's project,
// divided by the project's weight (project priority / 50), is added. The
// lowest turn goes first:
//
//	turn = (U_user + running·plan + planned) / (w_user · w_project)
//	     + U_project / w_project
//
// with usages in core-seconds (memory and GPUs folded in by the site's
// weights; a planned or running GPU counts as Snapshot.GPUWeight cores).
// Between the users of one project the project term is the same, so the
// user shares above hold; between projects, a project that used more waits
// behind one that used less, in proportion to their priorities. Jobs
// without a project count for the "default" project like any other. The
// project term is fixed for a pass (planning counts against users only), so
// a pass costs what it did without it.
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
	// Jobs queue per (user, priorities, project): a user's jobs of one
	// turn keep their order. One lookup by uid per job (a user has one or
	// two queues); weights and the project's usage are read once per
	// queue. Each queue then gets an exact run of one backing array.
	jobs := snap.Pending
	which := make([]int32, len(jobs)) // the queue of each job
	byUser := make(map[int][]int32, 64)
	var q queues
	projected := map[int]*float64{}
	for i := range jobs {
		j := &jobs[i]
		qi := int32(-1)
		for _, k := range byUser[j.UID] {
			if x := q[k]; x.prio == j.Priority && x.projectPrio == j.ProjectPriority && x.projectName == j.Project {
				qi = k
				break
			}
		}
		if qi < 0 {
			p := projected[j.UID]
			if p == nil {
				p = new(snap.Usage[j.UID] + snap.Running[j.UID]*plan)
				projected[j.UID] = p
			}
			uw, pw := weights(*j)
			qi = int32(len(q))
			q = append(q, &queue{
				uid: j.UID, prio: j.Priority, projectPrio: j.ProjectPriority, projectName: j.Project,
				weight: uw * pw, project: snap.ProjectUsage[j.Project] / pw, projected: p,
			})
			byUser[j.UID] = append(byUser[j.UID], qi)
		}
		which[i] = qi
		q[qi].count++
	}
	// Queues hold their jobs' places in the snapshot and their head's id,
	// not copies of the records.
	backing := make([]int32, len(jobs))
	off := 0
	for _, x := range q {
		x.jobs = backing[off : off : off+x.count]
		off += x.count
	}
	for i := range jobs {
		x := q[which[i]]
		x.jobs = append(x.jobs, int32(i))
	}
	for _, x := range q {
		slices.SortFunc(x.jobs, func(a, b int32) int { return cmp.Compare(jobs[a].ID, jobs[b].ID) })
		x.head = jobs[x.jobs[0]].ID
	}
	for i, x := range q {
		x.index = i
	}
	heap.Init(&q)
	byUID := make(map[int][]*queue, len(byUser))
	for uid, ks := range byUser {
		for _, k := range ks {
			byUID[uid] = append(byUID[uid], q[k])
		}
	}
	out := make([]scheduler.Decision, 0, len(snap.Pending))
	for q.Len() > 0 {
		u := q[0]
		j := &jobs[u.jobs[0]]
		// One shared reason: formatting numbers per job would cost more
		// than the ordering; `god usage` shows them.
		out = append(out, scheduler.Decision{JobID: j.ID, Reason: reason})
		u.jobs = u.jobs[1:]
		if len(u.jobs) > 0 {
			u.head = jobs[u.jobs[0]].ID
		}
		*u.projected += (j.CPU + snap.GPUWeight*float64(j.GPU)) * plan
		if len(u.jobs) == 0 {
			heap.Remove(&q, u.index)
		} else {
			heap.Fix(&q, u.index)
		}
		for _, other := range byUID[u.uid] {
			if other != u && other.index >= 0 {
				heap.Fix(&q, other.index)
			}
		}
	}
	return out, nil
}

// Weight is how much of the machine a job's owner is entitled to, from the
// owner's and the project's priorities (0 to 100, 50 being 1; 0 counts as
// 1 so that no one waits forever).
func Weight(j scheduler.Job) float64 {
	uw, pw := weights(j)
	return uw * pw
}

// weights are the owner's and the project's weights of a job.
func weights(j scheduler.Job) (user, project float64) {
	w := func(p int) float64 {
		if p <= 0 {
			p = 1
		}
		return float64(min(p, 100)) / 50
	}
	up, pp := j.Priority, j.ProjectPriority
	if up == 0 && pp == 0 {
		up, pp = 50, 50 // a snapshot without priorities: everyone equal
	}
	return w(up), w(pp)
}

const reason = "fair share: the user with the least usage (past, running and planned) for their priority first, then the project with the least past usage for its priority"

// queue is one user's pending jobs of one pair of priorities and one
// project.
type queue struct {
	uid               int
	prio, projectPrio int
	projectName       string
	weight            float64  // the user's times the project's
	project           float64  // the project's usage per project weight
	jobs              []int32  // places in the snapshot, by job id
	head              int64    // the id of jobs[0]
	projected         *float64 // the user's, shared by their queues
	index             int      // in the heap; -1 once removed
	count             int      // jobs, while the queues are built
}

func (x *queue) key() float64 { return *x.projected/x.weight + x.project }

// queues is a min-heap on turns (see the package doc), then on the head
// job's id (the older job first), so equal users alternate.
type queues []*queue

func (u queues) Len() int { return len(u) }
func (u queues) Less(i, j int) bool {
	if ki, kj := u[i].key(), u[j].key(); ki != kj {
		return ki < kj
	}
	return u[i].head < u[j].head
}
func (u queues) Swap(i, j int) {
	u[i], u[j] = u[j], u[i]
	u[i].index, u[j].index = i, j
}
func (u *queues) Push(x any) {
	q := x.(*queue)
	q.index = len(*u)
	*u = append(*u, q)
}
func (u *queues) Pop() any {
	old := *u
	x := old[len(old)-1]
	x.index = -1
	*u = old[:len(old)-1]
	return x
}
