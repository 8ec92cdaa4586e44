package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
)

// TestPluginPolicy_ReordersTheQueue: a third-party scheduler plugin,
// built from the example in the repository and installed in plugin_dir,
// orders the agent's queue; the queue, god job why and dispatch follow it.
func TestPluginPolicy_ReordersTheQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: builds a plugin binary")
	}
	dir := t.TempDir()
	must.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "god-scheduler-smallest-first")
	build := exec.Command("go", "build", "-o", bin, "../plugins/scheduler/example/smallest-first")
	out, err := build.CombinedOutput()
	must.NoError(t, err, must.Sprint(string(out)))

	ctx := context.Background()
	ex := fake.New(executor.Capacity{CPU: 5, Memory: 64 << 30})
	a := agentOn(t, ex, func(c *config.Config) {
		c.PluginDir = dir
		c.Scheduler = &config.Scheduler{Name: "smallest-first"}
	})
	policy, stop, err := OpenPolicy(a.cfg, hclog.NewNullLogger())
	must.NoError(t, err)
	t.Cleanup(stop)
	a.policy = policy
	alice := testUser(t, aliceUID)
	var ids []int64
	for _, cpu := range []float64{4, 1, 2} {
		j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "p", Command: "true", Resources: &api.Resources{CPU: cpu, Memory: "64MiB"}})
		must.NoError(t, err)
		ids = append(ids, j.ID)
	}
	order, err := a.order(ctx)
	must.NoError(t, err)
	must.Eq(t, []int64{ids[1], ids[2], ids[0]}, []int64{order[0].ID, order[1].ID, order[2].ID}, must.Sprint("smallest request first"))
	why, err := a.Why(ctx, alice, ids[0])
	must.NoError(t, err)
	must.Eq(t, 3, why.Position)
	// Dispatch follows the plugin's order: 1 and 2 cores start, then 4
	// do not fit in the 2 left of 5.
	pass(t, a)
	must.Eq(t, 2, ex.Starts())
	j, err := a.Job(ctx, alice, ids[0], 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StatePending, j.Status.Primary)
}
