package fairshare

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoenig/test/must"
	"pgregory.net/rapid"

	"github.com/godocker/god/plugins/scheduler"
)

func inProject(project string, js []scheduler.Job) []scheduler.Job {
	for i := range js {
		js[i].Project = project
	}
	return js
}

// Two equal users in two projects: the one whose project used less goes
// first, until its own planned usage outweighs the difference; without
// project usage they alternate as before.
func TestOrder_ProjectUsage(t *testing.T) {
	pending := append(inProject("busy", jobs(1, 1, 2, 3)), inProject("idle", jobs(2, 4, 5, 6))...)
	must.Eq(t, []int64{1, 4, 2, 5, 3, 6}, order(t, &scheduler.Snapshot{Pending: pending}))
	// busy used 1.5 core-hours: user 2's first two hour-long jobs come
	// before user 1's first (1.5 h < 2 h), then they alternate.
	snap := &scheduler.Snapshot{Pending: pending, ProjectUsage: map[string]float64{"busy": 1.5 * 3600}}
	must.Eq(t, []int64{4, 5, 1, 6, 2, 3}, order(t, snap))
}

// The project's priority divides its usage: a project at 100 with twice
// the usage of one at 50 ties with it, and the tie goes to the older job.
func TestOrder_ProjectPriority(t *testing.T) {
	a := inProject("a", jobs(1, 2))
	b := inProject("b", jobs(2, 1))
	a[0].Priority, a[0].ProjectPriority = 50, 100
	b[0].Priority, b[0].ProjectPriority = 100, 50 // same weight as a's job
	snap := &scheduler.Snapshot{Pending: append(a, b...), ProjectUsage: map[string]float64{"a": 2 * 7200, "b": 7200}}
	must.Eq(t, []int64{1, 2}, order(t, snap))
	snap.ProjectUsage["a"]++
	must.Eq(t, []int64{1, 2}, order(t, snap))
	snap.ProjectUsage["a"] -= 2
	must.Eq(t, []int64{2, 1}, order(t, snap))
}

// One user's jobs in two projects: the job of the project that used less
// goes first, whatever the ids.
func TestOrder_OneUserTwoProjects(t *testing.T) {
	pending := append(inProject("p", jobs(1, 1, 2)), inProject("q", jobs(1, 3))...)
	snap := &scheduler.Snapshot{Pending: pending, ProjectUsage: map[string]float64{"p": 3600, "q": 0}}
	must.Eq(t, []int64{3, 1, 2}, order(t, snap))
}

// A planned GPU counts as GPUWeight cores against its user.
func TestOrder_PlannedGPUs(t *testing.T) {
	gpu := jobs(1, 1, 2)
	for i := range gpu {
		gpu[i].GPU = 1
	}
	snap := &scheduler.Snapshot{Pending: append(gpu, jobs(2, 3, 4, 5, 6, 7)...), GPUWeight: 3}
	// User 1's first job plans 1+3 core-hours: user 2 runs four one-core
	// jobs before user 1's second, at the tie the older job goes.
	must.Eq(t, []int64{1, 3, 4, 5, 6, 2, 7}, order(t, snap))
}

// Property: among otherwise equal jobs (owners with the same past usage
// and priorities, one job each, same cores), the project with less decayed
// usage for its priority goes first; equal projects keep the id order.
func TestOrder_LessProjectUsageFirst(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nProjects := rapid.IntRange(1, 5).Draw(t, "projects")
		usage := map[string]float64{}
		for p := range nProjects {
			usage[fmt.Sprint("p", p)] = float64(rapid.IntRange(0, 20).Draw(t, fmt.Sprint("usage", p))) * 1800
		}
		userUsage := float64(rapid.IntRange(0, 10).Draw(t, "user_usage")) * 3600
		prio := rapid.IntRange(0, 100).Draw(t, "project_priority")
		cpu := float64(rapid.IntRange(1, 4).Draw(t, "cpu"))
		n := rapid.IntRange(1, 12).Draw(t, "jobs")
		var pending []scheduler.Job
		users := map[int]float64{}
		for i := range n {
			p := fmt.Sprint("p", rapid.IntRange(0, nProjects-1).Draw(t, fmt.Sprint("project_of", i)))
			pending = append(pending, scheduler.Job{ID: int64(i + 1), UID: 100 + i, CPU: cpu, Project: p, Priority: 50, ProjectPriority: prio})
			users[100+i] = userUsage
		}
		perm := rapid.Permutation(pending).Draw(t, "perm")
		got := order(t, &scheduler.Snapshot{Pending: perm, Usage: users, ProjectUsage: usage})
		projectOf := map[int64]string{}
		for _, j := range pending {
			projectOf[j.ID] = j.Project
		}
		must.True(t, slices.IsSortedFunc(got, func(a, b int64) int {
			if ua, ub := usage[projectOf[a]], usage[projectOf[b]]; ua != ub {
				if ua < ub {
					return -1
				}
				return 1
			}
			return int(a - b)
		}), must.Sprintf("order %v, projects %v, usage %v", got, projectOf, usage))
	})
}

// BenchmarkOrder100k is one fair-share pass over 100,000 jobs of 1,000
// users in 20 projects with past usage, priorities set.
func BenchmarkOrder100k(b *testing.B) {
	const n, users, projects = 100_000, 1000, 20
	snap := &scheduler.Snapshot{Usage: map[int]float64{}, ProjectUsage: map[string]float64{}}
	names := make([]string, projects)
	for p := range names {
		names[p] = fmt.Sprint("p", p)
		snap.ProjectUsage[names[p]] = float64(p) * 3600
	}
	for u := range users {
		snap.Usage[u] = float64(u%17) * 3600
	}
	for i := range n {
		u := i % users
		snap.Pending = append(snap.Pending, scheduler.Job{
			ID: int64(i + 1), UID: u, CPU: 1, Memory: 1 << 28,
			Project: names[u%projects], Priority: 50 + u%3, ProjectPriority: 50,
		})
	}
	for b.Loop() {
		order(b, snap)
	}
}
