package executortest

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/executor"
)

// runsAsUser: the job runs as its uid, gid and groups, with its env,
// workdir and mounts, and what it writes is the user's.
func (c *contract) runsAsUser(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	tk := e.task(1, `{ id -u; id -g; id -G; echo "$GOD_CONTRACT"; pwd; } > out.txt`, m)
	tk.Env = []string{"GOD_CONTRACT=hello world"}
	tk.WorkDir = "/data"
	e.start(e.ex, tk)
	st := e.waitEnded(e.ex, 1)
	must.Eq(t, 0, st.ExitCode, must.Sprintf("state %+v", st))
	groups := []string{strconv.Itoa(c.h.GID)}
	for _, g := range c.h.Groups {
		groups = append(groups, strconv.Itoa(g))
	}
	must.Eq(t, []string{
		strconv.Itoa(c.h.UID),
		strconv.Itoa(c.h.GID),
		strings.Join(groups, " "),
		"hello world",
		"/data",
	}, readLines(t, filepath.Join(dir, "out.txt")))
	fi, err := os.Stat(filepath.Join(dir, "out.txt"))
	must.NoError(t, err)
	must.Eq(t, uint32(c.h.UID), fi.Sys().(*syscall.Stat_t).Uid)
}

// exitCodes: the job's own exit code, 0 or not.
func (c *contract) exitCodes(t *testing.T) {
	e := c.newEnv(t)
	e.start(e.ex, e.task(1, "exit 0"))
	e.start(e.ex, e.task(2, "sleep 1; exit 3"))
	must.Eq(t, 0, e.waitEnded(e.ex, 1).ExitCode)
	ended := e.waitEnded(e.ex, 2)
	must.Eq(t, 3, ended.ExitCode)
	must.False(t, ended.OOMKilled)
	must.Eq(t, "", ended.Error)
	must.False(t, ended.StartedAt.IsZero())
	must.True(t, ended.FinishedAt.After(ended.StartedAt), must.Sprintf("%+v", ended))
}

// kill: SIGKILL at once (137); Kill and Remove of a stopped or missing
// job are no-ops; a removed job is gone.
func (c *contract) kill(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	e.start(e.ex, e.task(1, "echo up > /data/up; exec sleep 120", m))
	e.waitFile(filepath.Join(dir, "up"))
	must.NoError(t, e.ex.Kill(e.ctx, 1))
	ended := e.waitEnded(e.ex, 1)
	must.Eq(t, 137, ended.ExitCode)
	must.False(t, ended.Removing, must.Sprint("a kill is the job's end, not a removal behind its back"))

	must.NoError(t, e.ex.Kill(e.ctx, 1))   // already stopped
	must.NoError(t, e.ex.Kill(e.ctx, 999)) // no such job
	st, err := e.ex.Inspect(e.ctx, 1)
	must.NoError(t, err)
	must.Eq(t, 137, st.ExitCode, must.Sprint("the exit code stays readable until Remove"))

	must.NoError(t, e.ex.Remove(e.ctx, 1))
	_, err = e.ex.Inspect(e.ctx, 1)
	must.True(t, isNotFound(err), must.Sprintf("after Remove: %v", err))
	must.NoError(t, e.ex.Remove(e.ctx, 1))
	must.NoError(t, e.ex.Remove(e.ctx, 999))
	states, err := e.ex.List(e.ctx)
	must.NoError(t, err)
	must.SliceEmpty(t, states)
}

// stop: SIGTERM reaches the job, which ends as it chooses (its trap's
// exit code); stopping a missing or ended job is a no-op.
func (c *contract) stop(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	script := `trap 'echo term > /data/term; exit 42' TERM; echo up > /data/up; while true; do sleep 0.1; done`
	e.start(e.ex, e.task(1, script, m))
	e.waitFile(filepath.Join(dir, "up"))
	must.NoError(t, e.ex.Stop(e.ctx, 1))
	ended := e.waitEnded(e.ex, 1)
	must.Eq(t, 42, ended.ExitCode, must.Sprintf("%+v", ended))
	must.Eq(t, []string{"term"}, readLines(t, filepath.Join(dir, "term")))
	must.NoError(t, e.ex.Stop(e.ctx, 1))
	must.NoError(t, e.ex.Stop(e.ctx, 999))
}

// oom: the engine enforces the memory limit: the job is killed (137),
// and said to be killed for memory where the executor reports it.
func (c *contract) oom(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	tk := e.task(1, `x=$(head -c 64000000 /dev/zero | tr '\0' a); echo ${#x} > /data/survived`, m)
	tk.Memory = 16 << 20
	e.start(e.ex, tk)
	st := e.waitEnded(e.ex, 1)
	must.Eq(t, 137, st.ExitCode, must.Sprintf("%+v", st))
	if c.h.ReportsOOM {
		must.True(t, st.OOMKilled, must.Sprintf("%+v", st))
	}
	_, err := os.Stat(filepath.Join(dir, "survived"))
	must.True(t, errors.Is(err, os.ErrNotExist), must.Sprint("the job outlived its memory limit"))
}

// refusedPrivileges: inside the job, no capability at all, no_new_privs
// set, and the user's ids throughout.
func (c *contract) refusedPrivileges(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	tk := e.task(1, "cat /proc/self/status > /data/status", m)
	tk.CPU = 0.5
	tk.Memory = 64 << 20
	e.start(e.ex, tk)
	must.Eq(t, 0, e.waitEnded(e.ex, 1).ExitCode)
	status := map[string]string{}
	for _, line := range readLines(t, filepath.Join(dir, "status")) {
		if k, v, ok := strings.Cut(line, ":"); ok {
			status[k] = strings.TrimSpace(v)
		}
	}
	must.Eq(t, "1", status["NoNewPrivs"])
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		must.Eq(t, "0000000000000000", status[k], must.Sprintf("%s", k))
	}
	uid := strconv.Itoa(c.h.UID)
	must.Eq(t, []string{uid, uid, uid, uid}, strings.Fields(status["Uid"]))
	gid := strconv.Itoa(c.h.GID)
	must.Eq(t, []string{gid, gid, gid, gid}, strings.Fields(status["Gid"]))
}

// setuidRefused: a setuid-root binary the job can reach does not make it
// root. The same binary run by the user on the host, outside any
// container, shows that it would otherwise.
func (c *contract) setuidRefused(t *testing.T) {
	if c.h.SetuidBash == "" {
		t.Skip("skipping: the harness names no static bash to make setuid")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: making a setuid-root binary needs root")
	}
	e := c.newEnv(t)
	suid := t.TempDir()
	// The user on the host must reach it, through the test's temp dir.
	must.NoError(t, os.Chmod(filepath.Dir(suid), 0o755))
	must.NoError(t, os.Chmod(suid, 0o755))
	bash := filepath.Join(suid, "bash")
	copyFile(t, c.h.SetuidBash, bash)
	must.NoError(t, os.Chown(bash, 0, 0))
	must.NoError(t, os.Chmod(bash, 0o755|os.ModeSetuid))

	control := exec.Command(bash, "-p", "-c", "echo $EUID")
	control.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(c.h.UID), Gid: uint32(c.h.GID)}}
	out, err := control.Output()
	must.NoError(t, err)
	if strings.TrimSpace(string(out)) != "0" {
		t.Skipf("skipping: the setuid binary does not elevate on this host (euid %q; nosuid?): nothing to prove", out)
	}

	dir, m := e.dir()
	e.start(e.ex, e.task(1, `/suid/bash -p -c 'echo $EUID' > /data/euid`, m, executor.Mount{Source: suid, Target: "/suid", ReadOnly: true}))
	must.Eq(t, 0, e.waitEnded(e.ex, 1).ExitCode)
	must.Eq(t, []string{strconv.Itoa(c.h.UID)}, readLines(t, filepath.Join(dir, "euid")))
}

// startIdempotent: Start of a job that has its container returns it and
// never runs the job again, while it runs, after it ended, or when
// several starts race.
func (c *contract) startIdempotent(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	tk := e.task(1, "echo run >> /data/runs; sleep 1", m)
	first := e.start(e.ex, tk)
	again := e.start(e.ex, tk)
	must.Eq(t, first.ID, again.ID)
	e.waitEnded(e.ex, 1)
	after := e.start(e.ex, tk)
	must.Eq(t, first.ID, after.ID)
	must.False(t, after.Running)

	tk2 := e.task(2, "echo run >> /data/runs2", m)
	const n = 4
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, err := e.ex.Start(e.ctx, tk2)
			errs[i] = err
			if err == nil {
				ids[i] = st.ID
			}
		})
	}
	wg.Wait()
	for i := range n {
		must.NoError(t, errs[i], must.Sprintf("all errors: %v", errs))
		must.Eq(t, ids[0], ids[i])
	}
	e.waitEnded(e.ex, 2)
	time.Sleep(500 * time.Millisecond) // a second run would have written by now
	must.Eq(t, []string{"run"}, readLines(t, filepath.Join(dir, "runs")))
	must.Eq(t, []string{"run"}, readLines(t, filepath.Join(dir, "runs2")))
}

// recovery: an agent killed with -9 leaves its jobs running; the new
// agent's executor (a new value on the same engine) finds them, lists
// them, and sees their end.
func (c *contract) recovery(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	started := e.start(e.ex, e.task(7, "echo up > /data/up; sleep 2; exit 5", m))
	e.waitFile(filepath.Join(dir, "up"))

	fresh := e.open(e.store)
	st, err := fresh.Inspect(e.ctx, 7)
	must.NoError(t, err)
	must.Eq(t, started.ID, st.ID)
	must.Eq(t, c.h.UID, st.Owner)
	must.True(t, st.OwnedBy(c.h.UID, c.h.UID))
	listed, err := fresh.List(e.ctx)
	must.NoError(t, err)
	must.SliceLen(t, 1, listed)
	must.Eq(t, int64(7), listed[0].JobID)
	must.Eq(t, started.ID, listed[0].ID)

	ended := e.waitEnded(fresh, 7)
	must.Eq(t, 5, ended.ExitCode)
	// And after the end too, for one more restart.
	st, err = e.open(e.store).Inspect(e.ctx, 7)
	must.NoError(t, err)
	must.False(t, st.Running)
	must.Eq(t, 5, st.ExitCode)
}

// storesApart: another store's executor on the same engine and instance
// neither sees, lists, kills nor removes this store's job 1, and gets a
// job 1 of its own.
func (c *contract) storesApart(t *testing.T) {
	e := c.newEnv(t)
	dir, m := e.dir()
	mine := e.start(e.ex, e.task(1, "echo up > /data/up; exec sleep 120", m))
	e.waitFile(filepath.Join(dir, "up"))

	other := e.open(NewStoreID())
	_, err := other.Inspect(e.ctx, 1)
	must.True(t, isNotFound(err), must.Sprintf("the other store sees job 1: %v", err))
	listed, err := other.List(e.ctx)
	must.NoError(t, err)
	must.SliceEmpty(t, listed)
	must.NoError(t, other.Kill(e.ctx, 1))
	must.NoError(t, other.Stop(e.ctx, 1))
	must.NoError(t, other.Remove(e.ctx, 1))

	theirs := e.start(other, e.task(1, "exit 3"))
	must.NotEq(t, mine.ID, theirs.ID)
	must.Eq(t, 3, e.waitEnded(other, 1).ExitCode)
	must.NoError(t, other.Remove(e.ctx, 1))

	st, err := e.ex.Inspect(e.ctx, 1)
	must.NoError(t, err)
	must.True(t, st.Running, must.Sprint("this store's job 1 runs on"))
	must.Eq(t, mine.ID, st.ID)
	listed, err = e.ex.List(e.ctx)
	must.NoError(t, err)
	must.SliceLen(t, 1, listed)
}

// events: a subscriber hears of the job's end; the channel closes with
// its context.
func (c *contract) events(t *testing.T) {
	e := c.newEnv(t)
	sctx, stop := context.WithCancel(e.ctx)
	defer stop()
	events, err := e.ex.Events(sctx)
	must.NoError(t, err)
	e.start(e.ex, e.task(11, "sleep 1; exit 3"))
	for got := false; !got; {
		select {
		case ev, ok := <-events:
			must.True(t, ok, must.Sprint("events channel closed"))
			got = ev.JobID == 11
		case <-e.ctx.Done():
			t.Fatal("no event for job 11")
		}
	}
	st, err := e.ex.Inspect(e.ctx, 11)
	must.NoError(t, err)
	must.False(t, st.Running, must.Sprint("the event came before the end could be read"))
	must.Eq(t, 3, st.ExitCode)

	stop()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("events channel still open 10s after its context ended")
		}
	}
}

// missingImage: an image no engine has nor can pull is a permanent
// failure at Start, leaving nothing behind.
func (c *contract) missingImage(t *testing.T) {
	e := c.newEnv(t)
	tk := e.task(41, "true")
	tk.Image = "godocker/does-not-exist:nope"
	_, err := e.ex.Start(e.ctx, tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
	_, err = e.ex.Inspect(e.ctx, 41)
	must.True(t, isNotFound(err), must.Sprintf("%v", err))
}

// invalidMount: a bind of a path that does not exist is a permanent
// failure at Start, leaving nothing behind.
func (c *contract) invalidMount(t *testing.T) {
	e := c.newEnv(t)
	tk := e.task(42, "true", executor.Mount{Source: filepath.Join(t.TempDir(), "missing"), Target: "/data"})
	_, err := e.ex.Start(e.ctx, tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
	_, err = e.ex.Inspect(e.ctx, 42)
	must.True(t, isNotFound(err), must.Sprintf("%v", err))
}

// pauseUnpause, for executors with CapPause: every process of the job
// freezes and thaws, both are idempotent, a missing job is ErrNotFound, a
// paused job can be killed (137). Without CapPause, both are
// ErrNotSupported.
func (c *contract) pauseUnpause(t *testing.T) {
	e := c.newEnv(t)
	if !executor.Has(e.ex.Capabilities(), executor.CapPause) {
		must.ErrorIs(t, e.ex.Pause(e.ctx, 1), executor.ErrNotSupported)
		must.ErrorIs(t, e.ex.Unpause(e.ctx, 1), executor.ErrNotSupported)
		return
	}
	dir, m := e.dir()
	mainFile, childFile := filepath.Join(dir, "main"), filepath.Join(dir, "child")
	script := `( ` + CounterLoop("/data/child") + ` ) & ` + CounterLoop("/data/main")
	e.start(e.ex, e.task(61, script, m))
	WaitCounterAbove(t, e.ctx, mainFile, 2)
	WaitCounterAbove(t, e.ctx, childFile, 2)
	inspect := func() *executor.State {
		t.Helper()
		st, err := e.ex.Inspect(e.ctx, 61)
		must.NoError(t, err)
		return st
	}
	must.False(t, inspect().Paused)

	must.NoError(t, e.ex.Pause(e.ctx, 61))
	st := inspect()
	must.True(t, st.Paused)
	must.True(t, st.Running, must.Sprint("a paused job still counts as running"))
	m1, c1 := ReadCounter(t, mainFile), ReadCounter(t, childFile)
	time.Sleep(1500 * time.Millisecond)
	must.Eq(t, m1, ReadCounter(t, mainFile), must.Sprint("the job's first process ran while paused"))
	must.Eq(t, c1, ReadCounter(t, childFile), must.Sprint("the job's child ran while paused"))
	must.NoError(t, e.ex.Pause(e.ctx, 61)) // already paused

	must.NoError(t, e.ex.Unpause(e.ctx, 61))
	must.False(t, inspect().Paused)
	WaitCounterAbove(t, e.ctx, mainFile, m1)
	WaitCounterAbove(t, e.ctx, childFile, c1)
	must.NoError(t, e.ex.Unpause(e.ctx, 61)) // not paused

	must.ErrorIs(t, e.ex.Pause(e.ctx, 404), executor.ErrNotFound)
	must.ErrorIs(t, e.ex.Unpause(e.ctx, 404), executor.ErrNotFound)

	must.NoError(t, e.ex.Pause(e.ctx, 61))
	must.NoError(t, e.ex.Kill(e.ctx, 61))
	ended := e.waitEnded(e.ex, 61)
	must.Eq(t, 137, ended.ExitCode)
	must.False(t, ended.Paused)
	err := e.ex.Pause(e.ctx, 61)
	must.Error(t, err, must.Sprint("an ended job cannot be paused"))
	must.False(t, errors.Is(err, executor.ErrNotFound), must.Sprintf("%v", err))
	must.NoError(t, e.ex.Unpause(e.ctx, 61))
}

// exec: on an executor that opens sessions (CapExec), a command runs in
// the job's container as the job's user, in its working directory, with
// its own output, input and exit code, and never in an ended job.
func (c *contract) exec(t *testing.T) {
	e := c.newEnv(t)
	execer, ok := e.ex.(executor.Execer)
	if !executor.Has(e.ex.Capabilities(), executor.CapExec) {
		t.Skipf("skipping: the %s executor does not declare %s", e.ex.Name(), executor.CapExec)
	}
	must.True(t, ok, must.Sprint("CapExec without executor.Execer"))
	dir, m := e.dir()
	tk := e.task(71, `echo up > /data/up; sleep 300`, m)
	tk.WorkDir = "/data"
	e.start(e.ex, tk)
	e.waitFile(filepath.Join(dir, "up"))
	run := func(stdin string, cmd ...string) (string, string, int) {
		t.Helper()
		s, err := execer.Exec(e.ctx, 71, executor.ExecRequest{Cmd: cmd})
		must.NoError(t, err)
		defer s.Close()
		go func() {
			_, _ = io.WriteString(s.Stdin(), stdin)
			_ = s.Stdin().Close()
		}()
		var out, errOut []byte
		done := make(chan struct{})
		go func() { errOut, _ = io.ReadAll(s.Stderr()); close(done) }()
		out, _ = io.ReadAll(s.Stdout())
		<-done
		code, err := s.Wait(e.ctx)
		must.NoError(t, err)
		return string(out), string(errOut), code
	}
	out, _, code := run("", "sh", "-c", "id -u; id -g; pwd")
	must.Eq(t, 0, code)
	must.Eq(t, strconv.Itoa(c.h.UID)+"\n"+strconv.Itoa(c.h.GID)+"\n/data\n", out)
	out, errOut, code := run("", "sh", "-c", "echo o; echo e >&2; exit 7")
	must.Eq(t, 7, code)
	must.Eq(t, "o\n", out)
	must.Eq(t, "e\n", errOut)
	out, _, code = run("fed\n", "cat")
	must.Eq(t, 0, code)
	must.Eq(t, "fed\n", out)

	must.NoError(t, e.ex.Kill(e.ctx, 71))
	e.waitEnded(e.ex, 71)
	_, err := execer.Exec(e.ctx, 71, executor.ExecRequest{Cmd: []string{"true"}})
	must.Error(t, err, must.Sprint("a session into an ended job"))
}

// capacity: the engine reports resources for jobs.
func (c *contract) capacity(t *testing.T) {
	e := c.newEnv(t)
	capa, err := e.ex.Capacity(e.ctx)
	must.NoError(t, err)
	must.Positive(t, capa.CPU)
	must.Positive(t, capa.Memory)
	must.True(t, executor.Has(e.ex.Capabilities(), executor.CapKill))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	must.NoError(t, err)
	defer src.Close()
	dst, err := os.Create(to)
	must.NoError(t, err)
	_, err = io.Copy(dst, src)
	must.NoError(t, err)
	must.NoError(t, dst.Close())
}
