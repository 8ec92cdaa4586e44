package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shoenig/test/must"
	"pgregory.net/rapid"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
)

// pass runs one scheduling pass and waits for its dispatches.
func pass(t testing.TB, a *Agent) {
	t.Helper()
	sem := make(chan struct{}, maxConcurrentDispatch)
	_, err := a.cycle(context.Background(), sem)
	must.NoError(t, err)
	a.dispatching.Wait()
}

// used charges a finished job to the quota window, as if it had run
// cores for d and ended at end.
func used(a *Agent, u *api.Caller, project string, cores float64, d time.Duration, end time.Time) {
	start := end.Add(-d)
	j := &job.Job{User: u.User, CPU: cores, Spec: api.JobSpec{Project: project}}
	j.Dates.Started, j.Dates.Ended = &start, &end
	a.mu.Lock()
	a.window.charge(j)
	a.mu.Unlock()
}

// TestQuota_CPUHoursWindow: a user past their core-hours in the window
// waits with the reason (hold) or has the job ended "quota reached" (end);
// usage older than the window does not count.
func TestQuota_CPUHoursWindow(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"hold", "end"} {
		t.Run(mode, func(t *testing.T) {
			ex := fake.New(executor.Capacity{CPU: 16, Memory: 16 << 30})
			a := agentOn(t, ex, func(c *config.Config) {
				c.Quota = &config.Quota{CPUHours: 10, Window: "7d", WhenExceeded: mode}
			})
			alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
			now := time.Now()
			used(a, alice, "", 4, 3*time.Hour, now.Add(-time.Hour))     // 12 core-hours, in the window
			used(a, bob, "", 8, 10*time.Hour, now.Add(-8*24*time.Hour)) // 80, but 8 days ago
			ja, err := a.Submit(ctx, alice, &api.JobSpec{Name: "a", Command: "true"})
			must.NoError(t, err)
			jb, err := a.Submit(ctx, bob, &api.JobSpec{Name: "b", Command: "true"})
			must.NoError(t, err)
			pass(t, a)
			must.Eq(t, 1, ex.Starts(), must.Sprint("bob's old usage left the window; alice is past her quota"))
			got, err := a.Job(ctx, bob, jb.ID, 0, 0)
			must.NoError(t, err)
			must.Eq(t, api.StateRunning, got.Status.Primary)
			got, err = a.Job(ctx, alice, ja.ID, 0, 0)
			must.NoError(t, err)
			if mode == "end" {
				must.Eq(t, api.StateOver, got.Status.Primary)
				must.Eq(t, api.SecondaryQuotaReached, got.Status.Secondary)
				must.StrContains(t, got.Status.Reason, "god-alice used 12.0 of 10 core-hours in the last 7d")
				return
			}
			must.Eq(t, api.StatePending, got.Status.Primary)
			why, err := a.Why(ctx, alice, ja.ID)
			must.NoError(t, err)
			must.Eq(t, "quota", why.Reasons[0].Kind)
			must.StrContains(t, why.Reasons[0].Message, "quota reached: god-alice used 12.0 of 10 core-hours in the last 7d (quota.cpu_hours)")
			must.StrContains(t, why.Reasons[0].Fix, "leave the quota window")
		})
	}
}

// TestQuota_Project: a project's quotas cap its jobs, all members
// together; the same users' jobs elsewhere go on.
func TestQuota_Project(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(executor.Capacity{CPU: 16, Memory: 16 << 30})
	a := agentOn(t, ex, nil)
	alice, bob, root := testUser(t, aliceUID), testUser(t, bobUID), testUser(t, 0)
	for _, u := range []*api.Caller{alice, bob} { // accounts exist once users have called
		_, err := a.upsertAccount(ctx, api.AccountLocal, u.User, nil, "")
		must.NoError(t, err)
	}
	_, err := a.CreateProject(ctx, root, &api.Project{Name: "lab", Members: []string{alice.Login, bob.Login}, Quota: &api.ProjectQuota{RunningJobs: 2, CPUHours: 100}})
	must.NoError(t, err)
	_, err = a.CreateProject(ctx, root, &api.Project{Name: "bad", Quota: &api.ProjectQuota{RunningJobs: -1}})
	must.Error(t, err)
	must.Eq(t, "quota values are 0 (no cap) or positive", err.(*Error).Fields[0].Message)
	var inLab []int64
	for _, u := range []*api.Caller{alice, bob, alice} {
		j, err := a.Submit(ctx, u, &api.JobSpec{Name: "p", Command: "true", Project: "lab"})
		must.NoError(t, err)
		inLab = append(inLab, j.ID)
	}
	other, err := a.Submit(ctx, alice, &api.JobSpec{Name: "d", Command: "true"})
	must.NoError(t, err)
	pass(t, a)
	must.Eq(t, 3, ex.Starts(), must.Sprint("two of the project's and alice's default-project job"))
	got, err := a.Job(ctx, alice, other.ID, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StateRunning, got.Status.Primary)
	why, err := a.Why(ctx, alice, inLab[2])
	must.NoError(t, err)
	must.StrContains(t, why.Reasons[0].Message, "project lab runs 2 job(s), its quota of 2 at once")
	must.Nil(t, why.EstimatedStart, must.Sprint("a job a quota holds back has no estimate"))

	// Past its core-hours, the project waits; an admin lifting the quota
	// lets it go.
	ex.Finish(inLab[0], 0)
	a.finalize(ctx, inLab[0])
	used(a, alice, "lab", 50, 3*time.Hour, time.Now())
	pass(t, a)
	must.Eq(t, 3, ex.Starts())
	why, err = a.Why(ctx, alice, inLab[2])
	must.NoError(t, err)
	must.StrContains(t, why.Reasons[0].Message, "quota reached: project lab used 150.0 of 100 core-hours")
	_, err = a.UpdateProject(ctx, root, "lab", &api.ProjectUpdate{Quota: &api.ProjectQuota{}})
	must.NoError(t, err)
	a.projs.forget()
	pass(t, a)
	must.Eq(t, 4, ex.Starts())
}

// TestQuota_NeverExceededUnderBursts (property): whatever users submit,
// concurrently, while passes run and jobs end, no user ever runs more than
// the running quotas and no project more than its quota.
func TestQuota_NeverExceededUnderBursts(t *testing.T) {
	alice, bob, root := testUser(t, aliceUID), testUser(t, bobUID), testUser(t, 0)
	users := []*api.Caller{alice, bob}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		perUser := rapid.IntRange(1, 4).Draw(rt, "running_jobs")
		perUserCPU := float64(rapid.IntRange(1, 6).Draw(rt, "running_cpu"))
		projJobs := rapid.IntRange(1, 3).Draw(rt, "project_jobs")
		ex := fake.New(executor.Capacity{CPU: 64, Memory: 64 << 30})
		a := agentOn(t, ex, func(c *config.Config) {
			c.Quota = &config.Quota{RunningJobs: perUser, RunningCPU: perUserCPU}
		})
		for _, u := range users {
			_, err := a.upsertAccount(ctx, api.AccountLocal, u.User, nil, "")
			must.NoError(t, err)
		}
		_, err := a.CreateProject(ctx, root, &api.Project{Name: "lab", Members: []string{alice.Login, bob.Login}, Quota: &api.ProjectQuota{RunningJobs: projJobs}})
		must.NoError(t, err)
		type sub struct {
			user    int
			cpu     float64
			project string
		}
		subs := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) sub {
			return sub{rapid.IntRange(0, 1).Draw(rt, "user"), float64(rapid.IntRange(1, 3).Draw(rt, "cpu")), rapid.SampledFrom([]string{"", "lab"}).Draw(rt, "project")}
		}), 1, 24).Draw(rt, "submits")
		finishes := rapid.IntRange(0, 10).Draw(rt, "finishes")

		check := func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			for uid, u := range a.userUse {
				if u.jobs > perUser || u.cpu > perUserCPU+1e-9 {
					rt.Fatalf("user %d runs %d jobs / %g cpu, quota %d / %g", uid, u.jobs, u.cpu, perUser, perUserCPU)
				}
			}
			if p := a.projectUse["lab"]; p.jobs > projJobs {
				rt.Fatalf("project lab runs %d jobs, quota %d", p.jobs, projJobs)
			}
		}
		// A burst: every submit at once, while passes run.
		var wg sync.WaitGroup
		for _, s := range subs {
			wg.Go(func() {
				_, err := a.Submit(ctx, users[s.user], &api.JobSpec{Name: "b", Command: "true", Project: s.project, Resources: &api.Resources{CPU: s.cpu}})
				if err != nil {
					rt.Errorf("submit: %v", err)
				}
			})
		}
		wg.Go(func() {
			for range 5 {
				pass(t, a)
				check()
			}
		})
		wg.Wait()
		// Jobs end one by one; each end lets the queue move, within quotas.
		for i := 0; i < finishes; i++ {
			pass(t, a)
			check()
			running, err := ex.List(ctx)
			must.NoError(t, err)
			if len(running) == 0 {
				break
			}
			id := running[0].JobID
			ex.Finish(id, 0)
			a.finalize(ctx, id)
			_ = ex.Remove(ctx, id)
		}
		pass(t, a)
		check()
		// Nothing was lost: every job is pending, running or over.
		all, err := a.Jobs(ctx, root, &api.JobListOptions{Limit: 1000})
		must.NoError(t, err)
		if len(all) != len(subs) {
			rt.Fatalf("%d jobs stored, %d submitted", len(all), len(subs))
		}
	})
}

// TestEstimateStarts: the queue is simulated with each job running as long
// as its owner's recent jobs did: a job starts when what it asks for frees
// up, never before the job ahead of it.
func TestEstimateStarts(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(executor.Capacity{CPU: 2, Memory: 8 << 30})
	a := agentOn(t, ex, nil)
	alice := testUser(t, aliceUID)
	now := time.Now()
	// alice's jobs have run 30 minutes each.
	for range 3 {
		start, end := now.Add(-2*time.Hour), now.Add(-90*time.Minute)
		j := &job.Job{User: alice.User, CPU: 1}
		j.Dates.Started, j.Dates.Ended = &start, &end
		a.mu.Lock()
		a.runtimes.observe(j)
		a.mu.Unlock()
	}
	submit := func(cpu float64) int64 {
		j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "e", Command: "true", Resources: &api.Resources{CPU: cpu}})
		must.NoError(t, err)
		return j.ID
	}
	running := submit(1)
	pass(t, a)
	must.Eq(t, 1, ex.Starts())
	a.mu.Lock()
	r := a.reserved[running]
	r.started = now.Add(-10 * time.Minute) // it has run 10 of its 30 minutes
	a.reserved[running] = r
	a.mu.Unlock()
	ja, jb, jc := submit(1), submit(2), submit(1)
	held, err := a.Submit(ctx, alice, &api.JobSpec{Name: "h", Command: "true", Hold: true})
	must.NoError(t, err)
	order, err := a.order(ctx)
	must.NoError(t, err)
	got := a.estimateStarts(ctx, order, executor.Capacity{CPU: 2, Memory: 8 << 30}, now)
	near := func(id int64, want time.Duration) {
		t.Helper()
		d := got[id].Sub(now)
		must.True(t, d > want-time.Second && d < want+time.Second, must.Sprintf("job %d starts in %s, want %s", id, d, want))
	}
	near(ja, 0)              // a core is free
	near(jb, 30*time.Minute) // both cores: the running job ends at 20m, ja at 30m
	near(jc, 60*time.Minute) // after jb, which holds both cores for 30m
	_, ok := got[held.ID]
	must.False(t, ok, must.Sprint("a held job has no estimate"))
	q, err := a.Queue(ctx, alice)
	must.NoError(t, err)
	must.NotNil(t, q[0].EstimatedStart)
	ex2, err := a.Why(ctx, alice, jc)
	must.NoError(t, err)
	must.NotNil(t, ex2.EstimatedStart)
}

// TestFairShare_Priorities: with fair share, an admin's priorities give
// users starts in proportion to their weights (75 against 25: 3 to 1), and
// a project's priority weighs its jobs the same way.
func TestFairShare_Priorities(t *testing.T) {
	ctx := context.Background()
	a := agentOnWith(t, fake.New(executor.Capacity{CPU: 1, Memory: 8 << 30}), func(c *config.Config) {
		c.Scheduler = &config.Scheduler{Name: "fairshare"}
	}, nil)
	a.policy = Policy(a.cfg.Scheduler)
	alice, bob, root := testUser(t, aliceUID), testUser(t, bobUID), testUser(t, 0)
	for _, u := range []*api.Caller{alice, bob} {
		_, err := a.upsertAccount(ctx, api.AccountLocal, u.User, nil, "")
		must.NoError(t, err)
	}
	_, err := a.UpdateAccount(ctx, root, alice.Login, &api.AccountUpdate{Priority: new(75)})
	must.NoError(t, err)
	_, err = a.UpdateAccount(ctx, root, bob.Login, &api.AccountUpdate{Priority: new(25)})
	must.NoError(t, err)
	owner := map[int64]string{}
	for range 40 {
		for _, u := range []*api.Caller{alice, bob} {
			j, err := a.Submit(ctx, u, &api.JobSpec{Name: "f", Command: "true"})
			must.NoError(t, err)
			owner[j.ID] = u.Login
		}
	}
	order, err := a.order(ctx)
	must.NoError(t, err)
	count := func(n int) int {
		c := 0
		for _, j := range order[:n] {
			if owner[j.ID] == alice.Login {
				c++
			}
		}
		return c
	}
	must.Eq(t, 30, count(40), must.Sprint("alice gets 3 of every 4 starts"))

	// Equal users, one in a project of priority 100: 2 to 1.
	_, err = a.UpdateAccount(ctx, root, bob.Login, &api.AccountUpdate{Priority: new(75)})
	must.NoError(t, err)
	_, err = a.CreateProject(ctx, root, &api.Project{Name: "urgent", Priority: 100, Members: []string{bob.Login}})
	must.NoError(t, err)
	for id := range owner {
		_, _ = a.Stop(ctx, root, id)
	}
	owner = map[int64]string{}
	for range 30 {
		ja, err := a.Submit(ctx, alice, &api.JobSpec{Name: "f", Command: "true"})
		must.NoError(t, err)
		owner[ja.ID] = alice.Login
		jb, err := a.Submit(ctx, bob, &api.JobSpec{Name: "f", Command: "true", Project: "urgent"})
		must.NoError(t, err)
		owner[jb.ID] = bob.Login
	}
	order, err = a.order(ctx)
	must.NoError(t, err)
	must.Eq(t, 10, count(30), must.Sprint("bob's project weighs twice: alice gets 1 of every 3 starts"))
}

// TestGoDockerMode: the godocker policy orders by Go-Docker's score, with
// the usage of the quota window: the user who used more waits.
func TestGoDockerMode(t *testing.T) {
	ctx := context.Background()
	a := agentOn(t, fake.New(executor.Capacity{CPU: 1, Memory: 8 << 30}), func(c *config.Config) {
		c.Scheduler = &config.Scheduler{Name: "godocker", Config: map[string]string{"waiting_time": "0"}}
	})
	a.policy = Policy(a.cfg.Scheduler)
	must.Eq(t, "godocker", a.policy.Name())
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	used(a, alice, "", 2, 5*time.Hour, time.Now().Add(-time.Hour))
	ja, err := a.Submit(ctx, alice, &api.JobSpec{Name: "a", Command: "true"})
	must.NoError(t, err)
	jb, err := a.Submit(ctx, bob, &api.JobSpec{Name: "b", Command: "true"})
	must.NoError(t, err)
	order, err := a.order(ctx)
	must.NoError(t, err)
	must.Eq(t, []int64{jb.ID, ja.ID}, []int64{order[0].ID, order[1].ID})

	_, err = config.Parse("x.hcl", []byte(`scheduler "godocker" { config = { user_tim = "1" } }`), nil)
	must.NoError(t, err)
	bad := config.Default()
	bad.Scheduler = &config.Scheduler{Name: "godocker", Config: map[string]string{"user_tim": "1"}}
	must.ErrorContains(t, bad.Finalize(), `scheduler "godocker": config: unknown weight "user_tim"`)
}

// TestProjectUsage: god usage -project shows what a project runs and used
// against its quota, to members and admins only.
func TestProjectUsage(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(executor.Capacity{CPU: 16, Memory: 16 << 30})
	a := agentOn(t, ex, nil)
	alice, bob, root := testUser(t, aliceUID), testUser(t, bobUID), testUser(t, 0)
	_, err := a.upsertAccount(ctx, api.AccountLocal, alice.User, nil, "")
	must.NoError(t, err)
	_, err = a.CreateProject(ctx, root, &api.Project{Name: "lab", Priority: 60, Members: []string{alice.Login}, Quota: &api.ProjectQuota{CPUHours: 50}})
	must.NoError(t, err)
	_, err = a.Submit(ctx, alice, &api.JobSpec{Name: "u", Command: "true", Project: "lab", Resources: &api.Resources{CPU: 2}})
	must.NoError(t, err)
	pass(t, a)
	used(a, alice, "lab", 4, 3*time.Hour, time.Now())
	u, err := a.ProjectUsage(ctx, alice, "lab")
	must.NoError(t, err)
	must.Eq(t, api.ProjectUsage{Project: "lab", Priority: 60, RunningJobs: 1, RunningCPU: 2, RunningMemory: a.cfg.Defaults.MemoryBytes, WindowCPUHours: 12, Window: "30d", Quota: &api.ProjectQuota{CPUHours: 50}}, *u)
	_, err = a.ProjectUsage(ctx, bob, "lab")
	must.ErrorContains(t, err, "no project lab among yours")
	lines, err := a.Usage(ctx, alice)
	must.NoError(t, err)
	must.SliceLen(t, 1, lines)
	must.Eq(t, 12.0, lines[0].WindowCPUHours)
	must.Eq(t, 50, lines[0].Priority)
}
