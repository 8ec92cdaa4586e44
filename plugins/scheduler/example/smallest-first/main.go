// Command god-scheduler-smallest-first is an example scheduler plugin for
// the GoDocker agent: the smallest jobs (requested cores times memory) go
// first, ties in submission order. Build it as god-scheduler-smallest-first
// in the agent's plugin_dir and write `scheduler "smallest-first" {}`.
package main

import (
	"cmp"
	"context"
	"slices"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/plugin"
)

type smallestFirst struct{}

func (smallestFirst) Name() string { return "smallest-first" }

func (smallestFirst) Order(_ context.Context, s *scheduler.Snapshot) ([]scheduler.Decision, error) {
	jobs := slices.Clone(s.Pending)
	size := func(j scheduler.Job) float64 { return j.CPU * float64(j.Memory) }
	slices.SortFunc(jobs, func(a, b scheduler.Job) int {
		return cmp.Or(cmp.Compare(size(a), size(b)), cmp.Compare(a.ID, b.ID))
	})
	out := make([]scheduler.Decision, len(jobs))
	for i, j := range jobs {
		out[i] = scheduler.Decision{JobID: j.ID, Reason: "smallest first: fewest cores times memory requested, then oldest"}
	}
	return out, nil
}

func main() { plugin.Serve(smallestFirst{}) }
