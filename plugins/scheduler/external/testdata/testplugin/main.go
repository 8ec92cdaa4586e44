// Command testplugin is a scheduler plugin for the external package's tests
// and benchmark. Its config map chooses the policy ("policy": "reverse",
// the default, newest job first, or "fifo", the built-in) and how it
// misbehaves ("fail": exit, exit-once, hang, hang-once, error, duplicate,
// unknown, missing). The -once kinds misbehave on the first Order, after
// which the file "marker" exists, so a restarted plugin then works.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/plugins/scheduler/plugin"
)

type testPolicy struct {
	policy, fail, marker string
}

func (p *testPolicy) Name() string { return "testplugin" }

func (p *testPolicy) Configure(c map[string]string) error {
	if c["config-error"] != "" {
		return errors.New(c["config-error"])
	}
	p.policy, p.fail, p.marker = c["policy"], c["fail"], c["marker"]
	if p.policy == "" {
		p.policy = "reverse"
	}
	return nil
}

func (p *testPolicy) Order(ctx context.Context, s *scheduler.Snapshot) ([]scheduler.Decision, error) {
	switch p.fail {
	case "exit":
		os.Exit(2)
	case "exit-once":
		if _, err := os.Stat(p.marker); err != nil {
			_ = os.WriteFile(p.marker, nil, 0o600)
			os.Exit(2)
		}
	case "hang":
		select {} // deaf to cancellation, as a wedged plugin is
	case "hang-once":
		if _, err := os.Stat(p.marker); err != nil {
			_ = os.WriteFile(p.marker, nil, 0o600)
			select {}
		}
	case "error":
		return nil, errors.New("the policy's database is down")
	}
	var ds []scheduler.Decision
	if p.policy == "fifo" {
		ds, _ = fifo.Scheduler{}.Order(ctx, s)
	} else {
		for _, j := range s.Pending {
			ds = append(ds, scheduler.Decision{JobID: j.ID, Reason: fmt.Sprintf("newest first; user %s project %s group %s priority %d gpu %d", j.User, j.Project, j.Group, j.Priority, j.GPU)})
		}
		slices.SortFunc(ds, func(a, b scheduler.Decision) int { return cmp.Compare(b.JobID, a.JobID) })
	}
	switch p.fail {
	case "duplicate":
		ds = append(ds, ds[0])
	case "unknown":
		ds = append(ds, scheduler.Decision{JobID: 999999, Reason: "made up"})
	case "missing":
		ds = ds[1:]
	}
	return ds, nil
}

func main() { plugin.Serve(&testPolicy{policy: "reverse"}) }
