package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/external"
	"github.com/godocker/god/plugins/scheduler/fifo"
)

// The example builds as a plugin and orders a snapshot through the agent's
// client, over real gRPC.
func TestSmallestFirst_asAPlugin(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "god-scheduler-smallest-first")
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".").CombinedOutput()
	must.NoError(t, err, must.Sprint(string(out)))

	s, err := external.New(hclog.NewNullLogger(), bin, nil, fifo.Scheduler{})
	must.NoError(t, err)
	defer s.Close()
	must.Eq(t, "smallest-first", s.Name())

	const gib = 1 << 30
	snap := &scheduler.Snapshot{Pending: []scheduler.Job{
		{ID: 1, CPU: 4, Memory: 4 * gib},
		{ID: 2, CPU: 1, Memory: 1 * gib},
		{ID: 3, CPU: 2, Memory: 16 * gib},
		{ID: 4, CPU: 2, Memory: 512 << 20}, // as small as job 2
		{ID: 5, CPU: 0.5, Memory: 64 * gib},
	}}
	ds, err := s.Order(context.Background(), snap)
	must.NoError(t, err)
	var ids []int64
	for _, d := range ds {
		ids = append(ids, d.JobID)
		must.Eq(t, "smallest first: fewest cores times memory requested, then oldest", d.Reason)
	}
	must.Eq(t, []int64{2, 4, 1, 3, 5}, ids)
}
