package agent

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/auth"
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
func agentOn(t testing.TB, ex executor.Executor, configure func(*config.Config)) *Agent {
	t.Helper()
	return agentOnWith(t, ex, configure, nil)
}

// agentOnWith is agentOn with login methods of the test's own.
func agentOnWith(t testing.TB, ex executor.Executor, configure func(*config.Config), methods []auth.Authenticator) *Agent {
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
	a, err := New(cfg, Options{Store: st, Executor: ex, Scheduler: fifo.Scheduler{}, Logger: hclog.NewNullLogger(), Authenticators: methods})
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

// god job why: every blocking reason with its numbers and fix, and the
// position in the queue; god queue: the order with the first blocker.
func TestWhyAndQueue(t *testing.T) {
	a := agentOn(t, fake.New(executor.Capacity{CPU: 2, Memory: 8 << 30}), nil)
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	ctx := context.Background()
	submit := func(u *api.Caller, s api.JobSpec) *api.Job {
		t.Helper()
		s.Name = "x"
		if s.Command == "" {
			s.Command = "true"
		}
		j, err := a.Submit(ctx, u, &s)
		if err != nil {
			t.Fatalf("%v: %+v", err, err.(*Error).Fields)
		}
		return j
	}
	first := submit(bob, api.JobSpec{Resources: &api.Resources{CPU: 1}})
	big := submit(alice, api.JobSpec{Resources: &api.Resources{CPU: 1.5, Memory: "2GiB"}})
	held := submit(alice, api.JobSpec{Hold: true})
	dep := submit(alice, api.JobSpec{DependsOn: []string{fmt.Sprintf("afterok:%d", big.ID)}})
	// bob's job is running (as if dispatched): one core is taken.
	running, _, err := a.mutate(ctx, first.ID, func(j *job.Job) bool {
		j.MarkRunning(api.Container{Executor: "fake"}, time.Now())
		return true
	})
	must.NoError(t, err)
	a.book(running)

	ex, err := a.Why(ctx, alice, big.ID)
	must.NoError(t, err)
	must.Eq(t, 1, ex.Position)
	must.Eq(t, 1, ex.PositionMine)
	must.Eq(t, 3, ex.Pending)
	must.SliceLen(t, 1, ex.Reasons, must.Sprint("nothing ahead of it: capacity only"))
	must.Eq(t, "capacity", ex.Reasons[0].Kind)
	must.StrContains(t, ex.Reasons[0].Message, "it needs 1.5 cpu and 2GiB; 1 cpu and 7GiB are free of 2 cpu and 8GiB (1 job(s) running or starting)")

	ex, err = a.Why(ctx, alice, dep.ID)
	must.NoError(t, err)
	must.Eq(t, 3, ex.Position)
	must.Eq(t, "queue", ex.Reasons[len(ex.Reasons)-1].Kind)
	must.StrContains(t, ex.Reasons[len(ex.Reasons)-1].Message, "1 pending job(s) that could start come before it", must.Sprint("the held one does not count"))

	ex, err = a.Why(ctx, alice, held.ID)
	must.NoError(t, err)
	must.Eq(t, "held", ex.Reasons[0].Kind)
	must.Eq(t, fmt.Sprintf("god job release %d", held.ID), ex.Reasons[0].Fix)

	ex, err = a.Why(ctx, alice, dep.ID)
	must.NoError(t, err)
	must.Eq(t, "dependency", ex.Reasons[0].Kind)
	must.StrContains(t, ex.Reasons[0].Message, fmt.Sprintf("waiting for job %d (afterok)", big.ID))

	_, err = a.Why(ctx, bob, big.ID)
	must.ErrorContains(t, err, "belongs to another user")

	q, err := a.Queue(ctx, alice)
	must.NoError(t, err)
	must.SliceLen(t, 3, q, must.Sprint("alice's pending jobs"))
	must.Eq(t, 1, q[0].Position)
	must.Eq(t, big.ID, q[0].Job.ID)
	must.Eq(t, "capacity", q[0].Blocked.Kind)
	must.Eq(t, "held", q[1].Blocked.Kind)
	_, _, err = a.mutate(ctx, first.ID, func(j *job.Job) bool { j.MarkOver(new(0), "", "", time.Now()); return true })
	must.NoError(t, err)
	a.release(first.ID)
	other := submit(bob, api.JobSpec{})
	q, err = a.Queue(ctx, alice)
	must.NoError(t, err)
	must.Eq(t, big.ID, q[0].Job.ID)
	all, err := a.Queue(ctx, testUser(t, 0))
	must.NoError(t, err)
	must.SliceLen(t, 4, all)
	must.Eq(t, other.ID, all[3].Job.ID, must.Sprint("positions count every user's jobs"))
}

// A running quota keeps a user's extra jobs pending with the reason while
// other users' jobs go on; it frees up as the user's jobs end.
func TestQuota_RunningJobs(t *testing.T) {
	ex := fake.New(executor.Capacity{CPU: 64, Memory: 64 << 30})
	a := agentOn(t, ex, func(c *config.Config) { c.Quota = &config.Quota{RunningJobs: 2, RunningCPU: 3} })
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	ctx := context.Background()
	var mine []int64
	for range 4 {
		j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "x", Command: "true", Resources: &api.Resources{CPU: 1}})
		must.NoError(t, err)
		mine = append(mine, j.ID)
	}
	theirs, err := a.Submit(ctx, bob, &api.JobSpec{Name: "x", Command: "true", Resources: &api.Resources{CPU: 2}})
	must.NoError(t, err)
	sem := make(chan struct{}, maxConcurrentDispatch)
	cycle := func() {
		t.Helper()
		_, err := a.cycle(ctx, sem)
		must.NoError(t, err)
		a.dispatching.Wait()
	}
	cycle()
	cycle() // a second pass changes nothing: the quota holds
	must.Eq(t, 3, ex.Starts(), must.Sprint("two of alice's, and bob's (after alice's, not blocked by them)"))
	j, err := a.Job(ctx, bob, theirs.ID, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StateRunning, j.Status.Primary)

	why, err := a.Why(ctx, alice, mine[2])
	must.NoError(t, err)
	must.Eq(t, "quota", why.Reasons[0].Kind)
	must.StrContains(t, why.Reasons[0].Message, "god-alice runs 2 job(s), the quota of 2 at once (quota.running_jobs)")

	ex.Finish(mine[0], 0)
	a.finalize(ctx, mine[0])
	cycle()
	must.Eq(t, 4, ex.Starts(), must.Sprint("one ended, one more starts"))
	j, err = a.Job(ctx, alice, mine[3], 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StatePending, j.Status.Primary, must.Sprint("still two at most"))
}
