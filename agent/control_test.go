package agent

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/store/sqlite"
)

// noPause is an executor without the pause capability.
type noPause struct{ *fake.Executor }

func (noPause) Capabilities() []executor.Capability { return []executor.Capability{executor.CapKill} }

// agentOn builds an agent on an executor without running it: for checks
// that refuse before anything reaches an engine.
func agentOn(t *testing.T, ex executor.Executor, configure func(*config.Config)) *Agent {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.Socket = dir, filepath.Join(dir, "god.sock")
	if configure != nil {
		configure(cfg)
	}
	must.NoError(t, cfg.Finalize())
	st, err := sqlite.Open(filepath.Join(dir, "store"))
	must.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	a, err := New(cfg, Options{Store: st, Executor: ex, Scheduler: fifo.Scheduler{}, Logger: hclog.NewNullLogger()})
	must.NoError(t, err)
	return a
}

func TestSuspend_ExecutorWithoutPause(t *testing.T) {
	a := agentOn(t, noPause{fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30})}, nil)
	alice := testUser(t, aliceUID)
	j, err := a.Submit(context.Background(), alice, &api.JobSpec{Name: "x", Command: "true"})
	must.NoError(t, err)
	_, err = a.Suspend(context.Background(), alice, j.ID)
	must.ErrorContains(t, err, "cannot suspend or resume jobs")
	must.Eq(t, http.StatusNotImplemented, err.(*Error).Code)
}

func TestUpdate_FieldsTheSiteAllows(t *testing.T) {
	a := agentOn(t, fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30}), func(c *config.Config) { c.UpdatableFields = []string{"throttle"} })
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "x", Command: "true", Array: "3"})
	must.NoError(t, err)
	_, err = a.Update(ctx, alice, j.ID, &api.JobUpdate{MaxLifespan: new("1h")})
	must.ErrorContains(t, err, "invalid update")
	must.StrContains(t, err.(*Error).Fields[0].Message, "cannot be changed on this site")
	_, err = a.Update(ctx, alice, j.ID, &api.JobUpdate{})
	must.StrContains(t, err.(*Error).Fields[0].Message, "nothing to change")
	_, err = a.Update(ctx, alice, j.ID, &api.JobUpdate{Throttle: new(100001)})
	must.StrContains(t, err.(*Error).Fields[0].Message, "up to 100000")
	got, err := a.Update(ctx, alice, j.ID, &api.JobUpdate{Throttle: new(2)})
	must.NoError(t, err)
	must.Eq(t, 2, got.Array.Throttle)
	_, err = a.Update(ctx, testUser(t, bobUID), j.ID, &api.JobUpdate{Throttle: new(1)})
	must.ErrorContains(t, err, "belongs to another user")
}

// Pending caps refuse a submit with 429 and say which limit; array tasks
// count one each; a job leaving the queue makes room.
func TestRateLimits(t *testing.T) {
	a := agentOn(t, fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30}), func(c *config.Config) {
		c.MaxPendingPerUser, c.MaxPending = 3, 5
	})
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	ctx := context.Background()
	spec := &api.JobSpec{Name: "x", Command: "true"}
	var first *api.Job
	for i := 0; i < 3; i++ {
		j, err := a.Submit(ctx, alice, spec)
		must.NoError(t, err)
		if first == nil {
			first = j
		}
	}
	_, err := a.Submit(ctx, alice, spec)
	must.ErrorContains(t, err, "max_pending_per_user")
	must.Eq(t, http.StatusTooManyRequests, err.(*Error).Code)

	_, err = a.Submit(ctx, bob, &api.JobSpec{Name: "x", Command: "true", Array: "3"})
	must.ErrorContains(t, err, "the queue is full: 3 jobs pending and this would add 3")
	_, err = a.Submit(ctx, bob, &api.JobSpec{Name: "x", Command: "true", Array: "2"})
	must.NoError(t, err)
	_, err = a.Submit(ctx, bob, spec)
	must.ErrorContains(t, err, "max_pending")

	_, err = a.Stop(ctx, alice, first.ID)
	must.NoError(t, err)
	_, err = a.Submit(ctx, bob, spec)
	must.NoError(t, err, must.Sprint("a stopped job makes room"))
}
