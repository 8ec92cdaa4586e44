package fairshare

import (
	"context"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/godocker/god/plugins/scheduler"
)

// TestNoStarvation (property): when capacity frees, a waiting job is not
// overtaken forever. One core frees per pass; another user, of any
// priority, keeps submitting, and each job that runs adds its hour to its
// owner's usage. The waiting job, whatever its owner's past usage and
// priority (0 included), starts within a bound that follows from those
// numbers: its owner's usage per weight is fixed while the other's grows.
func TestNoStarvation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		waiterUsage := float64(rapid.IntRange(0, 200).Draw(t, "waiter_usage_hours")) * 3600
		waiterPrio := rapid.IntRange(0, 100).Draw(t, "waiter_priority")
		otherPrio := rapid.IntRange(0, 100).Draw(t, "other_priority")
		otherUsage := float64(rapid.IntRange(0, 50).Draw(t, "other_usage_hours")) * 3600
		waiter := scheduler.Job{ID: 1, UID: 1, CPU: 1, Priority: waiterPrio, ProjectPriority: 50}
		wWaiter := Weight(waiter)
		wOther := Weight(scheduler.Job{Priority: otherPrio, ProjectPriority: 50})
		// The other user overtakes while their usage per weight stays
		// below the waiter's: at most this many of their hour-long jobs.
		bound := int((waiterUsage/wWaiter)*wOther/3600) + 2
		usage := map[int]float64{1: waiterUsage, 2: otherUsage}
		next := int64(2)
		for pass := 1; ; pass++ {
			if pass > bound+1 {
				t.Fatalf("job 1 still waits after %d passes (bound %d)", pass-1, bound)
			}
			snap := &scheduler.Snapshot{Now: time.Unix(0, 0), Usage: usage, Running: map[int]float64{}}
			snap.Pending = []scheduler.Job{waiter}
			for range 3 { // the other user always has jobs waiting
				snap.Pending = append(snap.Pending, scheduler.Job{ID: next, UID: 2, CPU: 1, Priority: otherPrio, ProjectPriority: 50})
				next++
			}
			order, err := Scheduler{}.Order(context.Background(), snap)
			if err != nil {
				t.Fatal(err)
			}
			if order[0].JobID == 1 {
				return // it starts
			}
			usage[2] += 3600 // the other's job ran an hour
		}
	})
}
