package agent

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shoenig/test/must"
	"pgregory.net/rapid"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
	"github.com/godocker/god/plugins/scheduler/fairshare"
)

func gpuSpec(name string, gpus int) *api.JobSpec {
	return &api.JobSpec{Name: name, Command: "true", Resources: &api.Resources{CPU: 1, Memory: "64MiB", GPU: gpus}}
}

// A job asking for GPUs the executor does not have is refused at submit,
// naming the field, the numbers and the fix.
func TestGPU_ImpossibleRefusedAtSubmit(t *testing.T) {
	ctx := context.Background()
	alice := testUser(t, aliceUID)
	none := agentOn(t, fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30}), nil)
	_, err := none.Submit(ctx, alice, gpuSpec("g", 1))
	must.Error(t, err)
	fe := err.(*Error).Fields
	must.SliceLen(t, 1, fe)
	must.Eq(t, "resources.gpu", fe[0].Field)
	must.StrContains(t, fe[0].Message, "1 GPU(s) requested but the fake executor has none")
	j, err := none.Submit(ctx, alice, gpuSpec("c", 0))
	must.NoError(t, err, must.Sprint("jobs without GPUs are not affected"))
	must.Eq(t, 0, j.GPU)

	two := agentOn(t, fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30, GPUs: 2}), nil)
	_, err = two.Submit(ctx, alice, gpuSpec("g", 3))
	must.Error(t, err)
	must.StrContains(t, err.(*Error).Fields[0].Message, "3 GPUs requested but the fake executor has 2 at most; ask for fewer")
	j, err = two.Submit(ctx, alice, gpuSpec("g", 2))
	must.NoError(t, err)
	must.Eq(t, 2, j.GPU, must.Sprint("stored with the job"))
	got, err := two.Job(ctx, alice, j.ID, 0, 0)
	must.NoError(t, err)
	must.Eq(t, 2, got.GPU)
	must.Eq(t, 2, got.Spec.Resources.GPU)

	_, err = two.Submit(ctx, alice, gpuSpec("neg", -1))
	must.Error(t, err)
	must.Eq(t, "resources.gpu", err.(*Error).Fields[0].Field)
}

// GPU jobs wait for GPUs (and, in FIFO, jobs behind them wait too); the
// executor is given the job's GPUs; `god job why` names them.
func TestGPU_JobsWaitForGPUs(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(executor.Capacity{CPU: 16, Memory: 16 << 30, GPUs: 2})
	a := agentOn(t, ex, nil)
	alice := testUser(t, aliceUID)
	submit := func(name string, gpus int) int64 {
		j, err := a.Submit(ctx, alice, gpuSpec(name, gpus))
		must.NoError(t, err)
		return j.ID
	}
	big, one, cpu := submit("big", 2), submit("one", 1), submit("cpu", 0)
	pass(t, a)
	must.Eq(t, 1, ex.Starts(), must.Sprint("the two-GPU job holds both GPUs"))
	task, ok := ex.Task(big)
	must.True(t, ok)
	must.Eq(t, 2, task.GPUs)
	why, err := a.Why(ctx, alice, one)
	must.NoError(t, err)
	must.Eq(t, "capacity", why.Reasons[0].Kind)
	must.StrContains(t, why.Reasons[0].Message, "it needs 1 cpu, 64MiB and 1 GPU(s); 15 cpu, 15.94GiB and 0 GPU(s) are free of 16 cpu, 16GiB and 2 GPU(s)")
	must.NotNil(t, why.EstimatedStart, must.Sprint("it starts when the big job ends"))

	ex.Finish(big, 0)
	a.finalize(ctx, big)
	pass(t, a)
	must.Eq(t, 3, ex.Starts())
	task, _ = ex.Task(one)
	must.Eq(t, 1, task.GPUs)
	task, _ = ex.Task(cpu)
	must.Eq(t, 0, task.GPUs)
	a.mu.Lock()
	must.Eq(t, 1, a.used.GPUs)
	a.mu.Unlock()
	ex.Finish(one, 0)
	a.finalize(ctx, one)
	a.mu.Lock()
	must.Eq(t, 0, a.used.GPUs, must.Sprint("released at the end"))
	a.mu.Unlock()

	// The ledger charged the GPU-seconds to the user, the project and the
	// group.
	usage, err := a.Usage(ctx, alice)
	must.NoError(t, err)
	must.Positive(t, usage[0].GPUHours)
	must.Greater(t, usage[0].CPUHours+10*usage[0].GPUHours, usage[0].EffectiveHours+1e-12)
	p, err := a.ProjectUsage(ctx, alice, DefaultProject)
	must.NoError(t, err)
	must.InDelta(t, usage[0].GPUHours, p.GPUHours, 1e-9*usage[0].GPUHours)
	g, err := a.GroupUsage(ctx, alice, strconv.Itoa(alice.GID))
	must.NoError(t, err)
	must.InDelta(t, usage[0].GPUHours, g.GPUHours, 1e-9*usage[0].GPUHours)
	must.Eq(t, alice.GID, g.GID)
	bob := testUser(t, bobUID)
	if bob.GID != alice.GID && !slices.Contains(bob.Groups, alice.GID) {
		_, err = a.GroupUsage(ctx, bob, strconv.Itoa(alice.GID))
		must.ErrorContains(t, err, "only its members and admins see its usage")
	}
	_, err = a.GroupUsage(ctx, alice, "no-such-group-here")
	must.ErrorContains(t, err, "give a group name or a gid")
}

// Running-GPU quotas per user and per project hold jobs back with the
// numbers; other jobs go on.
func TestGPU_Quotas(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(executor.Capacity{CPU: 16, Memory: 16 << 30, GPUs: 8})
	a := agentOn(t, ex, func(c *config.Config) { c.Quota = &config.Quota{RunningGPUs: 3} })
	alice, bob, root := testUser(t, aliceUID), testUser(t, bobUID), testUser(t, 0)
	for _, u := range []*api.Caller{alice, bob} {
		_, err := a.upsertAccount(ctx, api.AccountLocal, u.User, nil, "")
		must.NoError(t, err)
	}
	_, err := a.CreateProject(ctx, root, &api.Project{Name: "lab", Members: []string{alice.Login, bob.Login}, Quota: &api.ProjectQuota{RunningGPUs: 1}})
	must.NoError(t, err)
	_, err = a.CreateProject(ctx, root, &api.Project{Name: "bad", Quota: &api.ProjectQuota{RunningGPUs: -1}})
	must.Error(t, err)

	submit := func(u *api.Caller, name, project string, gpus int) int64 {
		s := gpuSpec(name, gpus)
		s.Project = project
		j, err := a.Submit(ctx, u, s)
		must.NoError(t, err)
		return j.ID
	}
	a1 := submit(alice, "a1", "", 3)
	a2 := submit(alice, "a2", "", 1)  // past alice's 3 GPUs
	a3 := submit(alice, "a3", "", 0)  // no GPU: goes
	l1 := submit(bob, "l1", "lab", 1) // the project's one GPU
	l2 := submit(bob, "l2", "lab", 1) // past the project's quota
	b1 := submit(bob, "b1", "", 1)    // bob's own: goes
	pass(t, a)
	for _, id := range []int64{a1, a3, l1, b1} {
		_, ok := ex.Task(id)
		must.True(t, ok, must.Sprintf("job %d started", id))
	}
	must.Eq(t, 4, ex.Starts())
	why, err := a.Why(ctx, alice, a2)
	must.NoError(t, err)
	must.Eq(t, "quota", why.Reasons[0].Kind)
	must.StrContains(t, why.Reasons[0].Message, "god-alice runs 3 GPU(s); with this job's 1 that passes the quota of 3 (quota.running_gpus)")
	why, err = a.Why(ctx, bob, l2)
	must.NoError(t, err)
	must.StrContains(t, why.Reasons[0].Message, "project lab runs 1 GPU(s); with this job's 1 that passes its quota of 1")
	pu, err := a.ProjectUsage(ctx, bob, "lab")
	must.NoError(t, err)
	must.Eq(t, 1, pu.RunningGPUs)
	all, err := a.Usage(ctx, root)
	must.NoError(t, err)
	for _, e := range all {
		must.Eq(t, map[string]int{"god-alice": 3, "god-bob": 2}[e.User], e.RunningGPUs, must.Sprint(e.User))
	}

	// Ends free the quotas.
	ex.Finish(a1, 0)
	a.finalize(ctx, a1)
	ex.Finish(l1, 0)
	a.finalize(ctx, l1)
	pass(t, a)
	must.Eq(t, 6, ex.Starts())
}

// Property: among otherwise equal pending jobs (fresh owners, default
// priorities, one job each), fair share starts first the job whose
// project has the least decayed usage, however that usage was made up of
// cores, memory and GPUs and whenever it ended.
func TestGPU_FairShareLessProjectUsageFirst(t *testing.T) {
	a := agentOn(t, fake.New(executor.Capacity{CPU: 1, Memory: 1 << 30}), func(c *config.Config) {
		c.Scheduler = &config.Scheduler{Name: "fairshare", HalfLife: "1d"}
	})
	a.policy = fairshare.Scheduler{}
	rapid.Check(t, func(rt *rapid.T) {
		// A fresh ledger and queue for each case: one agent serves them all.
		a.mu.Lock()
		a.ledger = newLedger(24*time.Hour, 0.25, 10)
		a.queue = map[int64]*job.Job{}
		a.pendingByUID = map[int]int{}
		a.mu.Unlock()
		now := time.Now()
		nProjects := rapid.IntRange(2, 5).Draw(rt, "projects")
		projects := make([]string, nProjects)
		for p := range projects {
			projects[p] = fmt.Sprint("p", p)
			for k := range rapid.IntRange(0, 3).Draw(rt, fmt.Sprint("finished_in_", p)) {
				ended := now.Add(-time.Duration(rapid.IntRange(0, 72).Draw(rt, fmt.Sprint("ended_hours_ago", p, k))) * time.Hour)
				started := ended.Add(-time.Duration(rapid.IntRange(1, 10).Draw(rt, "hours")) * time.Hour)
				j := &job.Job{
					User: api.User{UID: 40000 + p, GID: 40000, Name: fmt.Sprint("past", p)},
					Spec: api.JobSpec{Project: projects[p]},
					CPU:  float64(rapid.IntRange(1, 4).Draw(rt, "cpu")), Memory: int64(rapid.IntRange(0, 8).Draw(rt, "gib")) << 30,
					GPU: rapid.IntRange(0, 2).Draw(rt, "gpu"),
				}
				j.Dates.Started, j.Dates.Ended = &started, &ended
				a.mu.Lock()
				a.ledger.charge(j)
				a.mu.Unlock()
			}
		}
		// One pending job per project, owners fresh and equal.
		for p := range projects {
			j := &job.Job{ID: int64(p + 1), User: api.User{UID: 50000 + p, GID: 50000, Name: fmt.Sprint("new", p)}, Spec: api.JobSpec{Project: projects[p]},
				CPU: 1, Memory: 1 << 28, Status: api.Status{Primary: api.StatePending}}
			j.Dates.Submitted = now
			a.queued(j)
		}
		order, err := a.order(context.Background())
		must.NoError(rt, err)
		must.SliceLen(rt, nProjects, order)
		a.mu.Lock()
		var seen []string
		usage := make([]float64, len(order))
		for i, j := range order {
			usage[i] = a.ledger.project(projectOf(j), now).Effective
			seen = append(seen, fmt.Sprintf("%d:%s=%.1f", j.ID, projectOf(j), usage[i]))
		}
		a.mu.Unlock()
		// Usages equal but for rounding (4 GiB weigh like a core) may go
		// either way.
		for i := 1; i < len(order); i++ {
			must.True(rt, usage[i-1] <= usage[i]*(1+1e-9), must.Sprintf("jobs must go by their project's decayed usage: %v", seen))
		}
	})
}

// The Docker executor has no GPUs unless configured: a GPU job is refused
// at submit with the setting to change.
func TestGPU_DockerWithoutGPUsRefuses(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	_, err := ta.Submit(context.Background(), alice, gpuSpec("g", 1))
	must.Error(t, err)
	fe := err.(*Error).Fields
	must.SliceLen(t, 1, fe)
	must.Eq(t, "resources.gpu", fe[0].Field)
	must.Eq(t, "1 GPU(s) requested but the docker executor has none; remove gpu, or ask an admin to configure GPUs (docker { gpus = N })", fe[0].Message)
}
