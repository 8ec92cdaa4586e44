package agent

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
)

func finished(uid int, cpu float64, mem int64, start, end time.Time) *job.Job {
	return &job.Job{User: api.User{UID: uid, Name: "u"}, CPU: cpu, Memory: mem, Dates: api.Dates{Started: &start, Ended: &end}}
}

// Usage fades by half every half-life, whatever order jobs are charged in.
func TestLedger_Decay(t *testing.T) {
	now := time.Now()
	l := newLedger(24*time.Hour, 0.25, 10)
	l.charge(finished(1, 2, 4<<30, now.Add(-time.Hour), now)) // 2 cores, 4 GiB, 1 h
	u := l.user(1, now)
	must.Eq(t, 7200.0, math.Round(u.CPU))
	must.Eq(t, 14400.0, math.Round(u.Memory))
	must.Eq(t, 7200.0+3600, math.Round(u.Effective))
	u = l.user(1, now.Add(24*time.Hour))
	must.Eq(t, 5400.0, math.Round(u.Effective), must.Sprint("one half-life later"))

	// An older job charged after a newer one counts for what is left of it.
	l.charge(finished(1, 1, 0, now.Add(-49*time.Hour), now.Add(-48*time.Hour)))
	must.Eq(t, 7200.0+900, math.Round(l.user(1, now).CPU))
	must.Eq(t, 0.0, l.user(2, now).Effective)
}

// Core-, GiB- and GPU-seconds fade alike for a user (by uid), a project
// (by name; "default" without one) and a group (the owner's primary gid),
// read at any time on an injected clock; GPUs weigh gpu_weight cores.
func TestLedger_DecayPerUserProjectGroup(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLedger(10*time.Hour, 0.5, 8)
	gpuJob := func(uid, gid int, project string, cpu float64, mem int64, gpus int, start, end time.Time) *job.Job {
		j := finished(uid, cpu, mem, start, end)
		j.User.GID, j.GPU, j.Spec.Project = gid, gpus, project
		return j
	}
	// Alice (group 100, project genomics): 2 cores, 2 GiB, 1 GPU for 1 h.
	l.charge(gpuJob(1, 100, "genomics", 2, 2<<30, 1, t0.Add(-time.Hour), t0))
	// Bob (group 100, no project): 1 core, 1 GiB, 2 GPUs for 1 h, ending
	// one half-life earlier: half of it is left at t0.
	l.charge(gpuJob(2, 100, "", 1, 1<<30, 2, t0.Add(-11*time.Hour), t0.Add(-10*time.Hour)))

	type want struct{ cpu, mem, gpu, eff float64 }
	check := func(name string, u usageAmounts, w want) {
		t.Helper()
		got := want{math.Round(u.CPU), math.Round(u.Memory), math.Round(u.GPU), math.Round(u.Effective)}
		must.Eq(t, w, got, must.Sprint(name))
	}
	// Effective = cpu + 0.5·mem + 8·gpu.
	check("alice at t0", l.user(1, t0), want{7200, 7200, 3600, 7200 + 3600 + 28800})
	check("bob at t0", l.user(2, t0), want{1800, 1800, 3600, 1800 + 900 + 28800})
	check("project genomics at t0", l.project("genomics", t0), want{7200, 7200, 3600, 39600})
	check("default project at t0", l.project(DefaultProject, t0), want{1800, 1800, 3600, 31500})
	check("group 100 at t0", l.group(100, t0), want{9000, 9000, 7200, 9000 + 4500 + 57600})
	check("an unknown group", l.group(200, t0), want{})

	// Two half-lives later every one of them is a quarter.
	t2 := t0.Add(20 * time.Hour)
	check("alice later", l.user(1, t2), want{1800, 1800, 900, 9900})
	check("project genomics later", l.project("genomics", t2), want{1800, 1800, 900, 9900})
	check("group 100 later", l.group(100, t2), want{2250, 2250, 1800, 17775})
	// Reading does not decay twice: asking again at t0 gives t0's amounts.
	check("group 100 at t0 again", l.group(100, t0), want{9000, 9000, 7200, 71100})
}

// With fair share, a user who has run a lot waits behind one who has not,
// and a heavy submitter does not hold the machine for its whole backlog;
// the ledger survives a restart (rebuilt from the job records).
func TestFairShare(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) {
		c.Scheduler = &config.Scheduler{Name: "fairshare", HalfLife: "7d"}
		c.Docker.CPU, c.Docker.Memory = 1, "1GiB"
	})
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	ctx := context.Background()
	spec := api.JobSpec{Name: "w", Command: "sleep 0.3", Resources: &api.Resources{CPU: 1, Memory: "64MiB"}}
	warm := ta.submit(alice, spec) // alice has used the machine
	ta.waitOver(alice, warm)
	ta = ta.restart()
	usage, err := ta.Usage(ctx, alice)
	must.NoError(t, err)
	must.SliceLen(t, 1, usage)
	must.Greater(t, 0.0, usage[0].CPUHours, must.Sprint("the ledger is rebuilt after a restart"))

	// Both submit while a blocker holds the only core.
	block := ta.submit(alice, api.JobSpec{Name: "block", Command: "sleep 2", Resources: &api.Resources{CPU: 1, Memory: "64MiB"}})
	ta.waitRunning(alice, block)
	var a, b []int64
	for range 3 {
		a = append(a, ta.submit(alice, spec))
	}
	for range 2 {
		b = append(b, ta.submit(bob, spec))
	}
	ex, err := ta.Why(ctx, bob, b[0])
	must.NoError(t, err)
	must.Eq(t, 1, ex.Position, must.Sprint("bob, who has used nothing, is next"))
	started := func(id int64, u *api.Caller) time.Time {
		j := ta.waitOver(u, id)
		return *j.Dates.Started
	}
	b0, b1, a0 := started(b[0], bob), started(b[1], bob), started(a[0], alice)
	must.True(t, b0.Before(a0), must.Sprint("bob's first job before alice's"))
	must.True(t, b1.Before(started(a[2], alice)), must.Sprint("interleaved, not behind alice's backlog"))
	all, err := ta.Usage(ctx, testUser(t, 0))
	must.NoError(t, err)
	must.SliceLen(t, 2, all)
}
