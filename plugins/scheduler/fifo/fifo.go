// Package fifo is the first-in first-out scheduling policy: jobs are tried
// in submission order.
package fifo

import (
	"cmp"
	"context"
	"slices"

	"github.com/godocker/god/plugins/scheduler"
)

// Scheduler is the fifo policy.
type Scheduler struct{}

var _ scheduler.Scheduler = Scheduler{}

// Name implements scheduler.Scheduler.
func (Scheduler) Name() string { return "fifo" }

// Order implements scheduler.Scheduler: by submission time, then id.
func (Scheduler) Order(_ context.Context, s *scheduler.Snapshot) ([]scheduler.Decision, error) {
	jobs := slices.Clone(s.Pending)
	// Submission time then id is a total order: no stable sort needed.
	slices.SortFunc(jobs, func(a, b scheduler.Job) int {
		if c := a.Submitted.Compare(b.Submitted); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	out := make([]scheduler.Decision, len(jobs))
	for i, j := range jobs {
		out[i] = scheduler.Decision{JobID: j.ID, Reason: "first in, first out"}
	}
	return out, nil
}
