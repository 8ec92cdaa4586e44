package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
)

// Reschedule kills the running job and runs it again with the same id, in
// the same directory; the count is kept; it works across a restart.
func TestReschedule(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	id := ta.submit(alice, api.JobSpec{Name: "again", Command: "echo run >> runs; sleep 300"})
	first := ta.waitRunning(alice, id)
	runs := func() string {
		b, _ := os.ReadFile(filepath.Join(ta.jobDir(id), "runs"))
		return string(b)
	}
	for runs() == "" {
		time.Sleep(50 * time.Millisecond)
	}
	j, err := ta.Reschedule(ctx, alice, id)
	must.NoError(t, err)
	must.Eq(t, api.SecondaryRescheduling, j.Status.Secondary)
	ta = ta.restart() // in the middle
	j = ta.waitFor(alice, id, "running again", func(j *api.Job) bool {
		return j.Status.Primary == api.StateRunning && j.Container != nil && j.Container.ID != first.Container.ID
	})
	must.Eq(t, 1, j.Reschedules)
	deadline := time.Now().Add(20 * time.Second)
	for runs() != "run\nrun\n" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	must.Eq(t, "run\nrun\n", ta.readJobFile(id, "runs"), must.Sprint("ran exactly twice"))
	_, err = ta.Stop(ctx, alice, id)
	must.NoError(t, err)
	j = ta.waitOver(alice, id)
	must.Eq(t, api.ExitKilled, exitCode(j))

	_, err = ta.Reschedule(ctx, alice, id)
	must.ErrorContains(t, err, "only running jobs can be rescheduled")
}

// A job whose container the engine loses (here: removed behind the agent's
// back while it was down, as a lost node would) runs again while it has
// retries left, then ends lost; a non-zero exit is never retried.
func TestRetriesOnLostContainer(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.MaxRetries = new(1) })
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "fragile", Command: "echo run >> runs; sleep 300", Retries: 5})
	lose := func() {
		t.Helper()
		j := ta.waitFor(alice, id, "running", func(j *api.Job) bool { return j.Status.Primary == api.StateRunning })
		for {
			if b, _ := os.ReadFile(filepath.Join(ta.jobDir(id), "runs")); len(b) > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		ta.stop()
		out, err := exec.Command("docker", "rm", "-f", j.Container.ID).CombinedOutput()
		must.NoError(t, err, must.Sprint(string(out)))
		ta = ta.restart()
	}
	lose()
	j := ta.waitFor(alice, id, "retried", func(j *api.Job) bool { return j.Retries == 1 && j.Status.Primary == api.StateRunning })
	must.Eq(t, 1, j.Retries)
	must.SliceLen(t, 1, j.FailedNodes, must.Sprint("the lost node is recorded"))
	must.NotEq(t, "", j.FailedNodes[0])
	lose() // the site allows one retry, whatever the job asked
	j = ta.waitOver(alice, id)
	must.Eq(t, api.SecondaryLost, j.Status.Secondary)
	must.Eq(t, 1, j.Retries)
	must.Eq(t, "run\nrun\n", ta.readJobFile(id, "runs"))

	failing := ta.submit(alice, api.JobSpec{Name: "fails", Command: "echo run >> runs; exit 3", Retries: 1})
	j = ta.waitOver(alice, failing)
	must.Eq(t, 3, exitCode(j))
	must.Eq(t, 0, j.Retries)
	must.Eq(t, "run\n", ta.readJobFile(failing, "runs"))
}

// Archive removes the directory and keeps the record; purge removes the
// record; the archiver does it by itself after archive_after; an array
// goes with its tasks.
func TestArchive(t *testing.T) {
	ta := startAgent(t, nil)
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	ctx := context.Background()
	one := ta.submit(alice, api.JobSpec{Name: "one", Command: "echo out"})
	arr := ta.submit(alice, api.JobSpec{Name: "arr", Command: "echo out", Array: "3", Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
	running := ta.submit(alice, api.JobSpec{Name: "running", Command: "sleep 300", Tags: []string{"keep"}})
	ta.waitOver(alice, one)
	ta.waitOver(alice, arr)
	ta.waitRunning(alice, running)

	_, err := ta.Archive(ctx, bob, one, false)
	must.ErrorContains(t, err, "belongs to another user")
	_, err = ta.Archive(ctx, alice, running, false)
	must.ErrorContains(t, err, "only finished jobs can be archived")

	res, err := ta.Archive(ctx, alice, one, false)
	must.NoError(t, err)
	must.Eq(t, 1, res.Archived)
	_, err = os.Stat(ta.jobDir(one))
	must.True(t, os.IsNotExist(err))
	j, err := ta.Job(ctx, alice, one, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StateArchived, j.Status.Primary)
	must.Eq(t, 0, exitCode(j), must.Sprint("the record stays"))
	err = ta.Logs(ctx, alice, one, api.LogStdout, 0, false, &discard{}, func() {})
	must.ErrorContains(t, err, "archived")

	res, err = ta.ArchiveOlder(ctx, alice, &api.ArchiveRequest{OlderThan: "1h"})
	must.NoError(t, err)
	must.Eq(t, 0, res.Archived, must.Sprint("nothing that old"))
	time.Sleep(1100 * time.Millisecond)
	res, err = ta.ArchiveOlder(ctx, alice, &api.ArchiveRequest{OlderThan: "1s", Purge: true})
	must.NoError(t, err)
	must.Eq(t, 5, res.Purged, must.Sprint("one (archived) + array parent + 3 tasks"))
	_, err = os.Stat(ta.jobDir(arr))
	must.True(t, os.IsNotExist(err))
	_, err = ta.Job(ctx, alice, arr, 0, 0)
	must.ErrorContains(t, err, "not found")
	_, err = ta.Job(ctx, alice, running, 0, 0)
	must.NoError(t, err, must.Sprint("running jobs are never archived"))

	// The archiver role, across a restart.
	ta.cfg.ArchiveAge = time.Second
	_, err = ta.Stop(ctx, alice, running)
	must.NoError(t, err)
	ta.waitOver(alice, running)
	ta = ta.restart()
	j = ta.waitFor(alice, running, "archived", func(j *api.Job) bool { return j.Status.Primary == api.StateArchived })
	must.Eq(t, api.SecondaryKilled, j.Status.Secondary)
	_, err = os.Stat(filepath.Join(ta.cfg.SharedDir, "jobs", strconv.FormatInt(running, 10)))
	must.True(t, os.IsNotExist(err))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// With avoid_failed_nodes, a job lost on the engine's only node is not run
// there again: it ends failed with the reason.
func TestRetries_AvoidFailedNode(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.AvoidFailedNodes = true })
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "fragile", Command: "echo run >> runs; sleep 300", Retries: 2})
	j := ta.waitFor(alice, id, "running", func(j *api.Job) bool { return j.Status.Primary == api.StateRunning })
	ta.stop()
	out, err := exec.Command("docker", "rm", "-f", j.Container.ID).CombinedOutput()
	must.NoError(t, err, must.Sprint(string(out)))
	ta = ta.restart()
	j = ta.waitOver(alice, id)
	must.Eq(t, api.SecondaryFailed, j.Status.Secondary)
	must.StrContains(t, j.Status.Reason, "must avoid node")
	must.Eq(t, 1, j.Retries)
}

// TestRequeue_EngineGivesBack: a job the engine could not place in time
// (Nomad's placement timeout) goes back to GoDocker's queue with the
// engine's reason, spends no retry, and is dispatched again.
func TestRequeue_EngineGivesBack(t *testing.T) {
	ctx := context.Background()
	ex := fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30})
	a := agentOn(t, ex, nil)
	alice := testUser(t, aliceUID)
	j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "r", Command: "true"})
	must.NoError(t, err)
	sem := make(chan struct{}, maxConcurrentDispatch)
	_, err = a.cycle(ctx, sem)
	must.NoError(t, err)
	a.dispatching.Wait()
	must.Eq(t, 1, ex.Starts())
	ex.GiveBack(j.ID, "no node could place it within 5m0s: memory exhausted on 1 node(s)")
	a.finalize(ctx, j.ID)
	got, err := a.Job(ctx, alice, j.ID, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StatePending, got.Status.Primary)
	must.Eq(t, "the engine could not place it: no node could place it within 5m0s: memory exhausted on 1 node(s)", got.Status.Reason)
	must.Nil(t, got.Container)
	stored, err := a.store.Get(ctx, j.ID)
	must.NoError(t, err)
	must.Eq(t, 0, stored.Retries)
	_, err = a.cycle(ctx, sem)
	must.NoError(t, err)
	a.dispatching.Wait()
	must.Eq(t, 2, ex.Starts(), must.Sprint("dispatched again"))
}
