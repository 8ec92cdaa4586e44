package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/godocker/god/jobspec"
)

// finalize checks the swarm block and parses its sizes and durations;
// each error names its field. instance is the docker block's, the
// default.
func (w *Swarm) finalize(instance string) []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if w.Instance == "" {
		w.Instance = instance
	}
	if w.CPU < 0 {
		bad("swarm.cpu must be 0 (the nodes' cpus) or more, got %v", w.CPU)
	}
	if w.Memory != "" {
		n, err := jobspec.ParseMemory(w.Memory)
		if err != nil {
			bad("swarm.memory: %v", err)
		}
		w.MemoryBytes = n
	}
	if w.PidsLimit < 0 {
		bad("swarm.pids_limit must be 0 (the default, 4096) or more, got %d", w.PidsLimit)
	}
	if w.NNPHelper != "" && !filepath.IsAbs(w.NNPHelper) {
		bad("swarm.nnp_helper must be an absolute path (the same on every node), got %q", w.NNPHelper)
	}
	for _, d := range []struct {
		name, v string
		dst     *time.Duration
	}{{"swarm.start_timeout", w.StartTimeout, &w.StartTimeoutDuration}, {"swarm.poll_interval", w.PollInterval, &w.PollIntervalDuration}} {
		if d.v == "" {
			continue
		}
		var err error
		if *d.dst, err = time.ParseDuration(d.v); err != nil || *d.dst <= 0 {
			bad(`%s must be a positive duration such as "30s", got %q`, d.name, d.v)
		}
	}
	for i, c := range w.Constraints {
		if c == "" {
			bad("swarm.constraints[%d] is empty", i)
		}
	}
	return errs
}
