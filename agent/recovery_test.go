package agent

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor/docker"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/store/sqlite"
)

// The agent died after the engine started a job's container but before the
// job was recorded as running: the next agent adopts that container instead
// of starting a second one, and records its real end.
func TestRecovery_StartedButNotRecorded(t *testing.T) {
	needDocker(t)
	alice := testUser(t, aliceUID)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Socket = filepath.Join(dir, "god.sock")
	cfg.Defaults.Image = testImage
	cfg.Docker.Instance = "godtest-recovery-" + filepath.Base(dir)
	must.NoError(t, cfg.Finalize())

	// First life: store the job and start its container, then "crash".
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(dir, "store"))
	must.NoError(t, err)
	ex, err := docker.New(ctx, docker.Config{Instance: cfg.Docker.Instance, StoreID: st.Identity().ID})
	must.NoError(t, err)
	first, err := New(cfg, Options{Store: st, Executor: ex, Scheduler: fifo.Scheduler{}, Logger: hclog.NewNullLogger()})
	must.NoError(t, err)
	submitted, err := first.Submit(ctx, alice, &api.JobSpec{Name: "orphan", Command: "echo run >> runs; sleep 1; exit 4"})
	must.NoError(t, err)
	stored, err := st.Get(ctx, submitted.ID)
	must.NoError(t, err)
	task, err := first.prepare(stored)
	must.NoError(t, err)
	started, err := ex.Start(ctx, task)
	must.NoError(t, err)
	must.NoError(t, st.Close())
	ex.Close()

	// Second life.
	ta := runAgent(t, cfg)
	j := ta.waitOver(alice, submitted.ID)
	must.Eq(t, 4, exitCode(j))
	must.Eq(t, started.ID, j.Container.ID)
	must.Eq(t, "run\n", ta.readJobFile(submitted.ID, "runs"))
	ta.waitGone(submitted.ID)
}
