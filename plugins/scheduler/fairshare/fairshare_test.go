package fairshare

import (
	"context"
	"fmt"
	"testing"

	"github.com/shoenig/test/must"
	"pgregory.net/rapid"

	"github.com/godocker/god/plugins/scheduler"
)

func order(t interface{ Fatal(...any) }, snap *scheduler.Snapshot) []int64 {
	out, err := Scheduler{}.Order(context.Background(), snap)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(out))
	for i, d := range out {
		ids[i] = d.JobID
	}
	return ids
}

func jobs(uid int, ids ...int64) []scheduler.Job {
	var out []scheduler.Job
	for _, id := range ids {
		out = append(out, scheduler.Job{ID: id, UID: uid, User: fmt.Sprint("u", uid), CPU: 1})
	}
	return out
}

// A heavy submitter does not push a light one behind its whole backlog:
// equal users alternate, oldest job first.
func TestOrder_Interleaves(t *testing.T) {
	snap := &scheduler.Snapshot{Pending: append(jobs(1, 1, 2, 3, 4), jobs(2, 5, 6)...)}
	must.Eq(t, []int64{1, 5, 2, 6, 3, 4}, order(t, snap))
}

// The user with less decayed usage goes first; running jobs count.
func TestOrder_UsageAndRunning(t *testing.T) {
	snap := &scheduler.Snapshot{
		Pending: append(jobs(1, 1, 2), jobs(2, 3, 4)...),
		Usage:   map[int]float64{1: 10 * 3600},
	}
	must.Eq(t, []int64{3, 4, 1, 2}, order(t, snap), must.Sprint("10 core-hours of past usage"))
	snap = &scheduler.Snapshot{Pending: append(jobs(1, 1, 2), jobs(2, 3, 4)...), Running: map[int]float64{2: 1}}
	must.Eq(t, []int64{1, 2, 3, 4}, order(t, snap), must.Sprint("user 2 already runs a core: user 1 gets two before it gets another"))
}

// Properties over random queues: every pending job is ordered exactly once;
// each user's jobs keep their order; and among two users' next jobs, the
// one whose user has less projected usage never comes after.
func TestOrder_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		nUsers := rapid.IntRange(1, 6).Draw(t, "users")
		var pending []scheduler.Job
		usage := map[int]float64{}
		id := int64(0)
		for u := 0; u < nUsers; u++ {
			usage[u] = float64(rapid.IntRange(0, 100).Draw(t, fmt.Sprint("usage", u))) * 3600
			for range rapid.IntRange(0, 8).Draw(t, fmt.Sprint("jobs", u)) {
				id++
				pending = append(pending, scheduler.Job{ID: id, UID: u, CPU: float64(rapid.IntRange(1, 4).Draw(t, "cpu"))})
			}
		}
		// Shuffle the snapshot: the policy must not rely on its order.
		perm := rapid.Permutation(pending).Draw(t, "perm")
		got := order(t, &scheduler.Snapshot{Pending: perm, Usage: usage})
		must.Eq(t, len(pending), len(got))
		seen := map[int64]bool{}
		lastOf := map[int]int64{}
		uidOf := map[int64]int{}
		cpuOf := map[int64]float64{}
		for _, j := range pending {
			uidOf[j.ID], cpuOf[j.ID] = j.UID, j.CPU
		}
		projected := map[int]float64{}
		for u, v := range usage {
			projected[u] = v
		}
		for _, jid := range got {
			must.False(t, seen[jid], must.Sprint("ordered once"))
			seen[jid] = true
			u := uidOf[jid]
			must.Greater(t, lastOf[u], jid, must.Sprint("a user's jobs keep their order"))
			lastOf[u] = jid
			// No other user with pending jobs left had strictly less
			// projected usage at this point.
			for other, p := range projected {
				if other != u && hasLeft(got, seen, uidOf, other) {
					must.True(t, projected[u] <= p, must.Sprintf("user %d (%.0f) went before user %d (%.0f)", u, projected[u], other, p))
				}
			}
			projected[u] += cpuOf[jid] * DefaultPlanSeconds
		}
	})
}

func hasLeft(got []int64, seen map[int64]bool, uidOf map[int64]int, uid int) bool {
	for _, id := range got {
		if !seen[id] && uidOf[id] == uid {
			return true
		}
	}
	return false
}

// TestPriorityShares: two users who keep the queue full get the machine in
// proportion to their weights: user priorities 75 and 25 give 3:1, project
// priorities 100 and 50 give 2:1.
func TestPriorityShares(t *testing.T) {
	cases := []struct {
		name       string
		a, b       scheduler.Job // templates: priorities only
		wantAShare float64
	}{
		{"user priorities", scheduler.Job{Priority: 75, ProjectPriority: 50}, scheduler.Job{Priority: 25, ProjectPriority: 50}, 0.75},
		{"project priorities", scheduler.Job{Priority: 50, ProjectPriority: 100}, scheduler.Job{Priority: 50, ProjectPriority: 50}, 2.0 / 3},
		{"equal", scheduler.Job{Priority: 50, ProjectPriority: 50}, scheduler.Job{Priority: 50, ProjectPriority: 50}, 0.5},
		{"none given", scheduler.Job{}, scheduler.Job{}, 0.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := &scheduler.Snapshot{Usage: map[int]float64{}, Running: map[int]float64{}}
			for i := range 800 {
				j := tc.a
				j.UID = 1
				if i%2 == 1 {
					j = tc.b
					j.UID = 2
				}
				j.ID, j.CPU = int64(i+1), 1
				snap.Pending = append(snap.Pending, j)
			}
			order, err := Scheduler{}.Order(context.Background(), snap)
			must.NoError(t, err)
			must.SliceLen(t, 800, order)
			uid := map[int64]int{}
			for _, j := range snap.Pending {
				uid[j.ID] = j.UID
			}
			a := 0
			for _, d := range order[:300] {
				if uid[d.JobID] == 1 {
					a++
				}
			}
			got := float64(a) / 300
			must.True(t, got > tc.wantAShare-0.02 && got < tc.wantAShare+0.02, must.Sprintf("user 1 got %.3f of the first 300 starts, want %.3f", got, tc.wantAShare))
		})
	}
}
