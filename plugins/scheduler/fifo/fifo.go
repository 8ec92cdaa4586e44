// Package fifo is the first-in first-out scheduling policy: jobs are tried
// in submission order.
package fifo

import (
	"context"
	"slices"

	"github.com/godocker/god/plugins/scheduler"
)

// Scheduler is the fifo policy.
type Scheduler struct{}

var _ scheduler.Scheduler = Scheduler{}

// Name implements scheduler.Scheduler.
func (Scheduler) Name() string { return "fifo" }

// Order implements scheduler.Scheduler: in the order jobs were accepted,
// which is the order of their ids (as Go-Docker's FiFo, in insertion order).
func (Scheduler) Order(_ context.Context, s *scheduler.Snapshot) ([]scheduler.Decision, error) {
	ids := make([]int64, len(s.Pending))
	for i, j := range s.Pending {
		ids[i] = j.ID
	}
	slices.Sort(ids)
	out := make([]scheduler.Decision, len(ids))
	for i, id := range ids {
		out[i] = scheduler.Decision{JobID: id, Reason: "first in, first out"}
	}
	return out, nil
}
