package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/failpoint"
	"github.com/godocker/god/store/redis/redistest"
)

// The fault matrix of website/content/docs/reliability.md: each test
// injects one fault into real processes (the built agent, dockerd, redis)
// and checks that every acknowledged job ran exactly once, as its owner,
// with its own exit code.

// stop stops the agent gracefully (SIGTERM): its containers keep running.
func (p *agentProc) stop() {
	p.t.Helper()
	must.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	<-p.exited
	p.cmd = nil
}

// runAs writes a one-job spec in the user's directory and runs `god job
// run -wait` with it as that user.
func runAs(t *testing.T, p *agentProc, user, command string) (out, errOut string, code int) {
	t.Helper()
	dir := userDir(t, user)
	spec := fmt.Sprintf("job \"fault\" {\n  command = %q\n}\n", command)
	must.NoError(t, os.WriteFile(filepath.Join(dir, "job.hcl"), []byte(spec), 0o644))
	return god(t, user, "unix://"+p.socket, dir, "job", "run", "-wait", "job.hcl")
}

// TestFault_TwoStoresOneEngine is issue 19's reproduction: alice's job 1
// runs on one store when its agent stops; a second agent on a new store
// (a data dir started afresh) on the same engine and instance name gives
// bob's job 1 a container of its own: bob's script runs and reports its
// own exit code, and alice's container is left alone for her agent, which
// finds it when it comes back.
func TestFault_TwoStoresOneEngine(t *testing.T) {
	instance := fmt.Sprintf("gode2e-stores-%d", os.Getpid())
	first := startAgent(t, agentOpts{instance: instance})
	dir := userDir(t, "god-alice")
	must.NoError(t, os.WriteFile(filepath.Join(dir, "job.hcl"), []byte("job \"long\" {\n  command = \"echo I am alice; sleep 8\"\n}\n"), 0o644))
	out, errOut, code := god(t, "god-alice", "unix://"+first.socket, dir, "job", "run", "job.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, int64(1), submittedID(t, out))
	first.waitRunning(1)
	aliceContainer := first.containersOf(1)
	must.SliceLen(t, 1, aliceContainer)
	first.stop()

	second := startAgent(t, agentOpts{instance: instance})
	out, errOut, code = runAs(t, second, "god-bob", "echo I am bob; exit 3")
	must.Eq(t, 3, code, must.Sprint("god job run -wait exits with the job's code: ", errOut))
	must.Eq(t, int64(1), submittedID(t, out), must.Sprint("a new store numbers from 1 again"))
	must.StrContains(t, out, "Job 1 is over, exit code 3")
	must.Eq(t, "I am bob\n", second.jobFile(1, "god.log"), must.Sprint("bob's script ran"))
	j := second.waitOver(1)
	must.Eq(t, 3, exitCode(j))
	must.NotEq(t, aliceContainer[0], j.Container.ID)
	must.StrContains(t, second.log.String(), "container of another job store left alone")

	state, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", aliceContainer[0]).Output()
	must.NoError(t, err, must.Sprint("alice's container is still there"))
	must.Eq(t, "true", strings.TrimSpace(string(state)), must.Sprint("and still running"))

	first.restart()
	j = first.waitOver(1)
	must.Eq(t, 0, exitCode(j))
	must.Eq(t, aliceContainer[0], j.Container.ID)
	must.Eq(t, "I am alice\n", first.jobFile(1, "god.log"))
	must.Eq(t, "god-alice", j.User.Name)
}

// TestFault_SharedDirOfAnotherStore: job directories are named by id only
// (<shared_dir>/jobs/<id>), so an agent on a new store refuses a
// shared_dir whose job directories another store made, rather than give
// its job 1 alice's old directory.
func TestFault_SharedDirOfAnotherStore(t *testing.T) {
	first := startAgent(t, agentOpts{})
	id := first.submit(api.JobSpec{Name: "mine", Command: "echo mine > secret"})
	first.waitOver(id)
	first.stop()

	dir := traversableTempDir(t)
	cfg := filepath.Join(dir, "agent.hcl")
	must.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nshared_dir = %q\nsocket = %q\ndocker {\n  instance = %q\n}\n",
		dir, first.shared, filepath.Join(dir, "god.sock"), first.instance)), 0o644))
	out, err := exec.Command(godBin, "agent", "-config", cfg).CombinedOutput()
	must.Error(t, err, must.Sprintf("the agent started: %s", out))
	must.StrContains(t, string(out), "holds the job directories of another job store")
	must.StrContains(t, string(out), "set shared_dir to another directory")
	must.Eq(t, "mine\n", first.jobFile(id, "secret"), must.Sprint("nothing was touched"))
}

// waitCrash waits for an agent that killed itself at a failpoint.
func (p *agentProc) waitCrash() {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.cmd = nil
		must.StrContains(p.t, fmt.Sprint(err), "killed", must.Sprintf("the agent died of SIGKILL: %v\n%s", err, p.log.String()))
	case <-time.After(60 * time.Second):
		p.t.Fatalf("the agent never reached its failpoint:\n%s", p.log.String())
	}
}

// TestFault_CrashDuringDispatch: the agent is killed (SIGKILL, at a
// failpoint, not after a sleep) at each step of a job's life, and
// restarted: the job runs exactly once, as its owner, and ends with its
// own exit code; nothing is left on the engine.
func TestFault_CrashDuringDispatch(t *testing.T) {
	for _, step := range []string{failpoint.AfterCreate, failpoint.AfterStart, failpoint.AfterRecordStart, failpoint.BeforeRecordEnd, failpoint.AfterRecordEnd} {
		t.Run(step, func(t *testing.T) {
			p := startAgent(t, agentOpts{bin: godFaultBin, env: []string{"GOD_FAILPOINT=" + step}})
			dir := userDir(t, "god-alice")
			must.NoError(t, os.WriteFile(filepath.Join(dir, "job.hcl"), []byte("job \"once\" {\n  command = \"echo run >> runs; id -un; sleep 1; exit 7\"\n}\n"), 0o644))
			out, errOut, code := god(t, "god-alice", "unix://"+p.socket, dir, "job", "run", "job.hcl")
			must.Eq(t, 0, code, must.Sprint(errOut))
			id := submittedID(t, out)
			p.waitCrash()

			p.env = nil
			p.restart()
			j := p.waitOver(id)
			must.Eq(t, 7, exitCode(j), must.Sprintf("%s: %s", step, j.Status.Reason))
			must.Eq(t, "run\n", p.jobFile(id, "runs"), must.Sprint("ran exactly once"))
			must.Eq(t, "god-alice\n", p.jobFile(id, "god.log"))
			p.waitNoContainer(id)
		})
	}
}

// TestFault_ContainerRemovedWhileRunning: `docker rm -f` of a job's
// container while the agent runs is not the job's end (the removal's kill
// says 137): the job is lost, retried while it has retries, then over
// (lost).
func TestFault_ContainerRemovedWhileRunning(t *testing.T) {
	p := startAgent(t, agentOpts{extra: "max_retries = 1\n"})
	id := p.submit(api.JobSpec{Name: "fragile", Command: "echo run >> runs; sleep 300", Retries: 1})
	remove := func(round int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(p.jobFile(id, "runs"), "run") < round {
			must.True(t, time.Now().Before(deadline), must.Sprintf("run %d never started", round))
			time.Sleep(50 * time.Millisecond)
		}
		ids := p.containersOf(id)
		must.SliceLen(t, 1, ids)
		out, err := exec.Command("docker", "rm", "-f", ids[0]).CombinedOutput()
		must.NoError(t, err, must.Sprint(string(out)))
	}
	remove(1)
	j := p.waitFor(id, "retried", func(j *api.Job) bool { return j.Retries == 1 })
	must.Eq(t, api.SecondaryRescheduled, j.Status.Secondary, must.Sprint(j.Status.Reason))
	remove(2)
	j = p.waitOver(id)
	must.Eq(t, api.SecondaryLost, j.Status.Secondary, must.Sprint(j.Status.Reason))
	must.Nil(t, j.Status.ExitCode, must.Sprint("a lost job's exit code is unknown, not the removal's 137"))
	must.Eq(t, "run\nrun\n", p.jobFile(id, "runs"))
}

// TestFault_DiskFull: with the data dir's disk full, a submit is refused
// with 507 and says so; nothing half-written is stored; once space is
// back, submits work again and the jobs acknowledged before run.
func TestFault_DiskFull(t *testing.T) {
	p := startAgent(t, agentOpts{tmpfsMiB: 24})
	var held []int64
	for range 3 {
		held = append(held, p.submit(api.JobSpec{Name: "before", Command: "echo run >> runs", Hold: true}))
	}
	filler := filepath.Join(p.dir, "filler")
	f, err := os.Create(filler)
	must.NoError(t, err)
	_, err = io.Copy(f, zeroReader{})
	must.ErrorIs(t, err, syscall.ENOSPC)
	f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = p.client.Jobs().Submit(ctx, &api.JobSpec{Name: "full", Command: "true"})
	var ae *api.APIError
	must.True(t, errors.As(err, &ae), must.Sprintf("got %v", err))
	must.Eq(t, http.StatusInsufficientStorage, ae.StatusCode, must.Sprint(ae.Message))
	must.StrContains(t, ae.Message, "out of disk space")
	must.StrContains(t, ae.Message, "nothing was stored")

	must.NoError(t, os.Remove(filler))
	after := p.submit(api.JobSpec{Name: "after", Command: "echo run >> runs"})
	all, err := p.client.Jobs().List(ctx, &api.JobListOptions{Limit: 100})
	must.NoError(t, err)
	must.SliceLen(t, 4, all, must.Sprint("the refused submit left nothing"))
	for _, id := range held {
		_, err := p.client.Jobs().Release(ctx, id)
		must.NoError(t, err)
	}
	for _, id := range append(held, after) {
		j := p.waitOver(id)
		must.Eq(t, 0, exitCode(j), must.Sprintf("job %d: %s", id, j.Status.Reason))
		must.Eq(t, "run\n", p.jobFile(id, "runs"))
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// TestFault_RedisRestart: the Redis store is killed (SIGKILL) and
// restarted from its AOF while clients submit: every acknowledged job is
// there afterwards and runs exactly once; submits during the outage fail
// with an error, never with an acknowledgement that is then lost.
func TestFault_RedisRestart(t *testing.T) {
	rs := redistest.Start(t)
	p := startAgent(t, agentOpts{cpu: 2, extra: fmt.Sprintf("store \"redis\" {\n  address = %q\n}\n", rs.Addr)})
	var (
		mu     sync.Mutex
		acked  []int64
		failed int
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				r, err := p.client.Jobs().Submit(ctx, &api.JobSpec{Name: "load", Command: "echo run >> runs", Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
				cancel()
				mu.Lock()
				if err == nil {
					acked = append(acked, r.ID)
				} else {
					failed++
				}
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	rs.Kill()
	time.Sleep(time.Second)
	rs.Restart()
	time.Sleep(2 * time.Second)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d submits acknowledged, %d refused while Redis was down", len(acked), failed)
	must.Positive(t, len(acked))
	for _, id := range acked {
		j := p.waitOver(id)
		must.Eq(t, 0, exitCode(j), must.Sprintf("job %d: %s", id, j.Status.Reason))
		must.Eq(t, "run\n", p.jobFile(id, "runs"), must.Sprintf("job %d ran exactly once", id))
	}
	all, err := p.client.Jobs().List(context.Background(), &api.JobListOptions{Limit: 10000})
	must.NoError(t, err)
	must.GreaterEq(t, len(acked), len(all), must.Sprint("every acknowledged job is stored"))
}
