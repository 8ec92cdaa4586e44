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
	l := newLedger(24*time.Hour, 0.25)
	l.charge(finished(1, 2, 4<<30, now.Add(-time.Hour), now)) // 2 cores, 4 GiB, 1 h
	cpu, mem, eff := l.usage(1, now)
	must.Eq(t, 7200.0, math.Round(cpu))
	must.Eq(t, 14400.0, math.Round(mem))
	must.Eq(t, 7200.0+3600, math.Round(eff))
	_, _, eff = l.usage(1, now.Add(24*time.Hour))
	must.Eq(t, 5400.0, math.Round(eff), must.Sprint("one half-life later"))

	// An older job charged after a newer one counts for what is left of it.
	l.charge(finished(1, 1, 0, now.Add(-49*time.Hour), now.Add(-48*time.Hour)))
	cpu, _, _ = l.usage(1, now)
	must.Eq(t, 7200.0+900, math.Round(cpu))
	_, _, eff = l.usage(2, now)
	must.Eq(t, 0.0, eff)
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
