// Package scheduler defines the scheduling policy plugins: one coarse call
// per cycle, a snapshot of the pending queue in, an ordered list of
// decisions out. Placement and capacity checks stay in the agent.
package scheduler

import (
	"context"
	"time"
)

// Job is the compact record of a pending job that a policy sees.
type Job struct {
	ID        int64
	UID       int
	User      string
	Submitted time.Time
	CPU       float64
	Memory    int64
	GPU       int
	// Project is the project the job is accounted to ("" when none).
	Project string
	// Group is the owner's primary group the job runs as, its gid in
	// decimal ("" when unknown): the key of Snapshot.GroupUsage.
	Group string
	// Priority is the owner's priority, 0 to 100 (50 unless an admin set
	// another); ProjectPriority the project's, likewise.
	Priority        int
	ProjectPriority int
}

// WindowUsage sums finished jobs over a window: their run time in seconds,
// the cores and the memory (GB) they asked for.
type WindowUsage struct {
	Seconds float64
	CPU     float64
	RAMGB   float64
}

// Resources is an amount of cores, memory bytes and gpus.
type Resources struct {
	CPU    float64
	Memory int64
	GPU    int
}

// Snapshot is the state a policy orders.
type Snapshot struct {
	Now     time.Time
	Pending []Job
	// Usage is each user's past usage by uid, decayed with the site's
	// half-life, in core-seconds (memory and GPUs folded in by the site's
	// weights).
	Usage map[int]float64
	// Running is the cores each user's jobs hold now, by uid, GPUs
	// folded in by GPUWeight.
	Running map[int]float64
	// ProjectUsage is each project's past usage, decayed like Usage
	// ("default" for jobs without a project).
	ProjectUsage map[string]float64
	// GroupUsage is each group's past usage, decayed like Usage, by the
	// owners' primary gid in decimal (Job.Group).
	GroupUsage map[string]float64
	// GPUWeight is the site's core-seconds per GPU-second
	// (scheduler.gpu_weight): a policy counts a job's GPUs as that many
	// cores each when it plans usage.
	GPUWeight float64
	// UserWindow and ProjectWindow are what the pending jobs' owners and
	// projects used over the site's quota window (Go-Docker's sliding
	// window): the sums over their finished jobs.
	UserWindow    map[int]WindowUsage
	ProjectWindow map[string]WindowUsage
	// Free is what the cluster has free now.
	Free Resources
}

// Decision is one job in the order the policy wants them tried, with the
// policy's reason (shown by `god job why` later).
type Decision struct {
	JobID  int64
	Reason string
}

// Scheduler orders pending jobs.
type Scheduler interface {
	Name() string
	Order(ctx context.Context, s *Snapshot) ([]Decision, error)
}
