package docker_test

// These tests run against the real Docker engine on this machine (no mocks):
// `make testenv` (scripts/testenv.sh, as root) starts one and builds the
// test image. Without an engine they skip, except in CI, which must run them.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/internal/testlog"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/docker"
	"github.com/godocker/god/plugins/executor/executortest"
	"github.com/godocker/god/store"
)

const (
	engineAddress = "unix:///var/run/docker.sock"

	// Test identity (scripts/testenv.sh creates the matching host users, but
	// the tests only need the numbers).
	aliceUID = 23001
	aliceGID = 23001
	labGID   = 23100
)

// testImage is built by scripts/testenv.sh (busybox + bash).
var testImage = func() string {
	if s := os.Getenv("GOD_TEST_IMAGE"); s != "" {
		return s
	}
	return "godocker/bash:local"
}()

var instanceSeq atomic.Int64

// unavailable skips the test with a reason, except in CI, which installs the
// engine and the image and so must not skip them.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the Docker executor tests: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), msg)
	t.Skipf("skipping: %s", msg)
}

// engineClient is a direct client of the engine, to look at what the
// executor created from outside it.
func engineClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.WithHost(engineAddress))
	must.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

func uniqueInstance() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("godtest-%d-%d-%s", os.Getpid(), instanceSeq.Add(1), hex.EncodeToString(b))
}

// newTestExecutor connects an executor with its own instance name to the
// engine; every container of that instance is removed when the test ends.
func newTestExecutor(t *testing.T) *docker.Executor {
	t.Helper()
	e, _ := newTestExecutorConfig(t, docker.Config{})
	return e
}

// newTestExecutorConfig is newTestExecutor with a config; it also returns the
// config with the instance name and the store id it was given.
func newTestExecutorConfig(t *testing.T, cfg docker.Config) (*docker.Executor, docker.Config) {
	t.Helper()
	cfg.Instance = uniqueInstance()
	if cfg.StoreID == "" {
		cfg.StoreID = store.NewID()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := docker.New(ctx, cfg)
	if err != nil {
		unavailable(t, "no Docker engine answers (%v); run `make testenv` as root", err)
	}
	t.Cleanup(func() {
		defer e.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		states, err := e.List(ctx)
		if err != nil {
			t.Errorf("cleanup: listing containers of instance %s: %v", cfg.Instance, err)
			return
		}
		for _, s := range states {
			if err := e.Remove(ctx, s.JobID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	if _, err := engineClient(t).ImageInspect(ctx, testImage); err != nil {
		unavailable(t, "test image %s is not on the engine (%v); run `make testenv` as root", testImage, err)
	}
	return e, cfg
}

// nameOf is the name the executor of cfg gives job id's container.
func nameOf(cfg docker.Config, id int64) string {
	return fmt.Sprintf("%s-%s-%d", cfg.Instance, cfg.StoreID[:8], id)
}

// labelsOf are the labels the executor of cfg puts on job id's container
// for a job of alice.
func labelsOf(cfg docker.Config, id int64) map[string]string {
	return map[string]string{docker.LabelInstance: cfg.Instance, docker.LabelJobID: strconv.FormatInt(id, 10),
		docker.LabelStoreID: cfg.StoreID, docker.LabelOwner: strconv.Itoa(aliceUID)}
}

// userDir is a temporary host directory the test user can write to.
func userDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		must.NoError(t, os.Chown(dir, aliceUID, aliceGID))
		must.NoError(t, os.Chmod(dir, 0o755))
	} else {
		must.NoError(t, os.Chmod(dir, 0o777))
	}
	return dir
}

// task is a job of the test user running a bash script.
func task(jobID int64, script string, mounts ...executor.Mount) *executor.Task {
	return &executor.Task{
		JobID:      jobID,
		Owner:      aliceUID,
		Name:       "test-" + strconv.FormatInt(jobID, 10),
		Image:      testImage,
		Entrypoint: []string{"bash", "-c", script},
		UID:        aliceUID,
		GID:        aliceGID,
		Groups:     []int{labGID},
		Mounts:     mounts,
	}
}

func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitExited polls the job's container until it has stopped.
func waitExited(t *testing.T, ctx context.Context, e executor.Executor, jobID int64) *executor.State {
	t.Helper()
	for {
		st, err := e.Inspect(ctx, jobID)
		must.NoError(t, err)
		if !st.Running && !st.FinishedAt.IsZero() {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %d still running: %v", jobID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	must.NoError(t, err)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// TestStartRunsAsUser: the container runs the task's entrypoint as its uid,
// gid and supplementary groups, with its env, workdir and mounts (read-only
// ones really read-only).
func TestStartRunsAsUser(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 25*time.Second)
	out, ro := userDir(t), userDir(t)
	must.NoError(t, os.WriteFile(filepath.Join(ro, "input"), []byte("from host\n"), 0o644))

	tk := task(1, `{ id -u; id -g; id -G; echo "$GOD_TEST_VAR"; pwd; cat /in/input
if touch /in/x 2>/dev/null; then echo ro-writable; else echo ro-denied; fi
} > out.txt`,
		executor.Mount{Source: out, Target: "/work"},
		executor.Mount{Source: ro, Target: "/in", ReadOnly: true})
	tk.Env = []string{"GOD_TEST_VAR=hello world"}
	tk.WorkDir = "/work"
	st, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.NotEq(t, "", st.ID)
	must.Eq(t, 1, st.JobID)
	must.StrHasSuffix(t, "-1", st.Name)

	st = waitExited(t, ctx, e, 1)
	must.Eq(t, 0, st.ExitCode, must.Sprintf("state %+v", st))
	must.Eq(t, []string{
		"23001",
		"23001",
		"23001 23100",
		"hello world",
		"/work",
		"from host",
		"ro-denied",
	}, readLines(t, filepath.Join(out, "out.txt")))
	fi, err := os.Stat(filepath.Join(out, "out.txt"))
	must.NoError(t, err)
	must.Eq(t, uint32(aliceUID), fi.Sys().(*syscall.Stat_t).Uid)
	_, err = os.Stat(filepath.Join(ro, "x"))
	must.ErrorIs(t, err, os.ErrNotExist)
}

// TestStartIdempotent: Start for a job that has a container returns that
// container and never runs the job again: not while it runs, not after it
// ended, not when several starts race.
func TestStartIdempotent(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 25*time.Second)
	dir := userDir(t)
	runs := filepath.Join(dir, "runs")
	tk := task(1, "echo run >> /data/runs; sleep 1", executor.Mount{Source: dir, Target: "/data"})

	first, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.True(t, first.Running)
	again, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.Eq(t, first.ID, again.ID)
	must.Eq(t, first.StartedAt, again.StartedAt)

	ended := waitExited(t, ctx, e, 1)
	must.Eq(t, 0, ended.ExitCode)
	must.Eq(t, []string{"run"}, readLines(t, runs))

	after, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.Eq(t, first.ID, after.ID)
	must.False(t, after.Running)
	must.Eq(t, ended.StartedAt, after.StartedAt)
	must.Eq(t, ended.FinishedAt, after.FinishedAt)
	time.Sleep(300 * time.Millisecond)
	st, err := e.Inspect(ctx, 1)
	must.NoError(t, err)
	must.False(t, st.Running)
	must.Eq(t, ended.StartedAt, st.StartedAt)
	must.Eq(t, []string{"run"}, readLines(t, runs))

	// Concurrent starts of a new job: one container, one run.
	tk2 := task(2, "echo run >> /data/runs2", executor.Mount{Source: dir, Target: "/data"})
	const n = 4
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, err := e.Start(ctx, tk2)
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
	waitExited(t, ctx, e, 2)
	time.Sleep(300 * time.Millisecond)
	must.Eq(t, []string{"run"}, readLines(t, filepath.Join(dir, "runs2")))

	states, err := e.List(ctx)
	must.NoError(t, err)
	must.SliceLen(t, 2, states)
}

// TestInspect: unknown jobs are ErrNotFound; a job's state goes from running
// to its exit code, with start and finish times.
func TestInspect(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 25*time.Second)

	_, err := e.Inspect(ctx, 404)
	must.ErrorIs(t, err, executor.ErrNotFound)

	before := time.Now().Add(-2 * time.Second) // the engine's clock may differ a little
	st, err := e.Start(ctx, task(7, "sleep 1; exit 7"))
	must.NoError(t, err)
	must.True(t, st.Running)
	running, err := e.Inspect(ctx, 7)
	must.NoError(t, err)
	must.True(t, running.Running)
	must.Eq(t, st.ID, running.ID)
	must.False(t, running.StartedAt.IsZero())
	must.True(t, running.FinishedAt.IsZero())

	ended := waitExited(t, ctx, e, 7)
	must.Eq(t, 7, ended.ExitCode)
	must.Eq(t, st.ID, ended.ID)
	must.False(t, ended.OOMKilled)
	must.False(t, ended.StartedAt.IsZero())
	must.False(t, ended.FinishedAt.IsZero())
	must.True(t, ended.StartedAt.After(before))
	must.True(t, ended.FinishedAt.After(ended.StartedAt))
}

// TestForeignContainer: a container that has the job's name but was not
// created by this instance is neither reported nor started.
func TestForeignContainer(t *testing.T) {
	t.Parallel()
	e, cfg := newTestExecutorConfig(t, docker.Config{})
	ctx := testContext(t, 25*time.Second)
	cli := engineClient(t)

	name := nameOf(cfg, 5) // the name of job 5's container
	_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   name,
		Config: &container.Config{Image: testImage, Entrypoint: []string{"true"}},
	})
	must.NoError(t, err)
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), name, client.ContainerRemoveOptions{Force: true})
	})

	_, err = e.Inspect(ctx, 5)
	must.Error(t, err)
	must.False(t, errors.Is(err, executor.ErrNotFound))
	_, err = e.Start(ctx, task(5, "true"))
	must.Error(t, err)
	res, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	must.NoError(t, err)
	must.Eq(t, "created", string(res.Container.State.Status))
}

// TestEvents: a subscriber hears about the job's container stopping, and the
// channel closes with its context.
func TestEvents(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 25*time.Second)
	sctx, stop := context.WithCancel(ctx)
	defer stop()

	events, err := e.Events(sctx)
	must.NoError(t, err)
	_, err = e.Start(ctx, task(11, "exit 3"))
	must.NoError(t, err)

	select {
	case ev, ok := <-events:
		must.True(t, ok, must.Sprint("events channel closed"))
		must.Eq(t, int64(11), ev.JobID)
	case <-time.After(15 * time.Second):
		t.Fatal("no event for job 11 within 15s")
	}
	st, err := e.Inspect(ctx, 11)
	must.NoError(t, err)
	must.False(t, st.Running)
	must.Eq(t, 3, st.ExitCode)

	stop()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("events channel still open 5s after its context ended")
		}
	}
}

// TestInterrupted: a container the engine was asked to signal from outside
// (an operator's docker stop) is Interrupted, the signal named; one that
// ends by itself is not.
func TestInterrupted(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 40*time.Second)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	events, err := e.Events(sctx)
	must.NoError(t, err)

	_, err = e.Start(ctx, task(21, "exit 4"))
	must.NoError(t, err)
	st, err := e.Start(ctx, task(22, "sleep 300"))
	must.NoError(t, err)
	out, err := exec.Command("docker", "stop", "-t", "1", st.ID).CombinedOutput()
	must.NoError(t, err, must.Sprint(string(out)))

	ended := map[int64]bool{}
	for len(ended) < 2 {
		select {
		case ev := <-events:
			ended[ev.JobID] = true
		case <-ctx.Done():
			t.Fatalf("events seen: %v", ended)
		}
	}
	st, err = e.Inspect(ctx, 21)
	must.NoError(t, err)
	must.Eq(t, 4, st.ExitCode)
	must.Eq(t, "", st.Interrupted)
	st, err = e.Inspect(ctx, 22)
	must.NoError(t, err)
	must.StrContains(t, st.Interrupted, "signal 15 from outside the job")
}

// TestKillRemove: Kill stops a running job at once (SIGKILL, 137) and is a
// no-op for stopped or missing jobs; Remove deletes the container and is a
// no-op for missing ones.
func TestKillRemove(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 25*time.Second)

	st, err := e.Start(ctx, task(3, "sleep 60"))
	must.NoError(t, err)
	must.True(t, st.Running)

	begin := time.Now()
	must.NoError(t, e.Kill(ctx, 3))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ended := waitExited(t, wctx, e, 3)
	must.Less(t, 5*time.Second, time.Since(begin))
	must.Eq(t, 137, ended.ExitCode)

	must.NoError(t, e.Kill(ctx, 3))   // already stopped
	must.NoError(t, e.Kill(ctx, 999)) // no such job

	must.NoError(t, e.Remove(ctx, 3))
	_, err = e.Inspect(ctx, 3)
	must.ErrorIs(t, err, executor.ErrNotFound)
	must.NoError(t, e.Remove(ctx, 3))
	must.NoError(t, e.Remove(ctx, 999))
	states, err := e.List(ctx)
	must.NoError(t, err)
	must.SliceEmpty(t, states)
}

// TestListOwnInstance: List reports only this instance's containers, and two
// instances on one engine keep the same job id apart.
func TestListOwnInstance(t *testing.T) {
	t.Parallel()
	e1 := newTestExecutor(t)
	e2 := newTestExecutor(t)
	ctx := testContext(t, 25*time.Second)

	a, err := e1.Start(ctx, task(1, "true"))
	must.NoError(t, err)
	b, err := e1.Start(ctx, task(2, "sleep 30"))
	must.NoError(t, err)
	other, err := e2.Start(ctx, task(1, "sleep 30"))
	must.NoError(t, err)
	must.NotEq(t, a.ID, other.ID)

	ids := func(states []*executor.State) map[int64]string {
		m := make(map[int64]string, len(states))
		for _, s := range states {
			m[s.JobID] = s.ID
		}
		return m
	}
	l1, err := e1.List(ctx)
	must.NoError(t, err)
	must.Eq(t, map[int64]string{1: a.ID, 2: b.ID}, ids(l1))
	l2, err := e2.List(ctx)
	must.NoError(t, err)
	must.Eq(t, map[int64]string{1: other.ID}, ids(l2))

	// Killing and removing job 1 of one instance leaves the other's alone.
	must.NoError(t, e1.Kill(ctx, 1))
	must.NoError(t, e1.Remove(ctx, 1))
	st, err := e2.Inspect(ctx, 1)
	must.NoError(t, err)
	must.True(t, st.Running)
	must.Eq(t, other.ID, st.ID)
}

// TestHostConfigSecurity: the container the engine holds is confined: not
// privileged, no capabilities for a user, no new privileges, private
// namespaces, no engine socket, and the limits asked for; and inside it the
// process really has no capabilities and no_new_privs set.
func TestHostConfigSecurity(t *testing.T) {
	t.Parallel()
	e, _ := newTestExecutorConfig(t, docker.Config{PidsLimit: 256})
	ctx := testContext(t, 25*time.Second)
	cli := engineClient(t)
	dir := userDir(t)

	tk := task(21, "cat /proc/self/status > /data/status", executor.Mount{Source: dir, Target: "/data"})
	tk.CPU = 0.5
	tk.Memory = 64 << 20
	_, err := e.Start(ctx, tk)
	must.NoError(t, err)
	st := waitExited(t, ctx, e, 21)
	must.Eq(t, 0, st.ExitCode)

	res, err := cli.ContainerInspect(ctx, st.ID, client.ContainerInspectOptions{})
	must.NoError(t, err)
	c := res.Container
	must.Eq(t, "23001:23001", c.Config.User)
	must.Eq(t, "21", c.Config.Labels[docker.LabelJobID])
	must.Eq(t, "test-21", c.Config.Labels[docker.LabelJobName])
	hc := c.HostConfig
	must.NotNil(t, hc)
	must.False(t, hc.Privileged)
	must.SliceContains(t, hc.CapDrop, "ALL")
	must.SliceEmpty(t, hc.CapAdd)
	must.SliceContains(t, hc.SecurityOpt, "no-new-privileges")
	for _, o := range hc.SecurityOpt {
		must.False(t, strings.Contains(o, "unconfined"), must.Sprintf("security option %q", o))
	}
	must.Eq(t, []string{"23100"}, hc.GroupAdd)
	must.False(t, hc.NetworkMode.IsHost(), must.Sprintf("network mode %q", hc.NetworkMode))
	must.False(t, hc.PidMode.IsHost(), must.Sprintf("pid mode %q", hc.PidMode))
	must.True(t, hc.IpcMode.IsPrivate(), must.Sprintf("ipc mode %q", hc.IpcMode))
	must.False(t, hc.UTSMode.IsHost())
	must.False(t, hc.UsernsMode.IsHost())
	must.SliceEmpty(t, hc.Devices)
	must.SliceEmpty(t, hc.Binds)
	for _, m := range c.Mounts {
		must.False(t, strings.Contains(m.Source, "docker.sock"), must.Sprintf("mount %+v", m))
	}
	must.SliceLen(t, 1, c.Mounts)
	must.Eq(t, dir, c.Mounts[0].Source)
	must.Eq(t, "/data", c.Mounts[0].Destination)
	must.Eq(t, int64(64<<20), hc.Memory)
	info, err := cli.Info(ctx, client.InfoOptions{})
	must.NoError(t, err)
	if info.Info.SwapLimit {
		must.Eq(t, int64(64<<20), hc.MemorySwap)
	} else {
		t.Logf("engine without swap limit support: MemorySwap is %d", hc.MemorySwap)
	}
	must.Eq(t, int64(5e8), hc.NanoCPUs)
	must.NotNil(t, hc.PidsLimit)
	must.Eq(t, int64(256), *hc.PidsLimit)

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
	must.Eq(t, strings.Fields("23001 23001 23001 23001"), strings.Fields(status["Uid"]))
	must.Eq(t, "23001 23100", strings.Join(strings.Fields(status["Groups"]), " "))

	// A root job (allowed by the agent's policy) keeps the engine's default
	// capabilities but still gets no more: not privileged, none added.
	root := task(22, "true")
	root.UID, root.GID, root.Groups = 0, 0, nil
	_, err = e.Start(ctx, root)
	must.NoError(t, err)
	st, err = e.Inspect(ctx, 22)
	must.NoError(t, err)
	res, err = cli.ContainerInspect(ctx, st.ID, client.ContainerInspectOptions{})
	must.NoError(t, err)
	must.False(t, res.Container.HostConfig.Privileged)
	must.SliceEmpty(t, res.Container.HostConfig.CapAdd)
	must.SliceContains(t, res.Container.HostConfig.SecurityOpt, "no-new-privileges")
}

// TestNoNewPrivilegesBlocksSetuid: a setuid-root binary the user can reach
// does not make the job root. A control container created without
// no-new-privileges shows that the binary would elevate otherwise.
func TestNoNewPrivilegesBlocksSetuid(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("skipping: making a setuid-root binary needs root")
	}
	const bash = "/bin/bash-static" // installed by scripts/testenv.sh
	if _, err := os.Stat(bash); err != nil {
		unavailable(t, "%v; run `make testenv` as root", err)
	}
	e, cfg := newTestExecutorConfig(t, docker.Config{})
	ctx := testContext(t, 25*time.Second)
	cli := engineClient(t)

	suid := t.TempDir()
	must.NoError(t, os.Chmod(suid, 0o755))
	copyFile(t, bash, filepath.Join(suid, "bash"))
	must.NoError(t, os.Chown(filepath.Join(suid, "bash"), 0, 0))
	must.NoError(t, os.Chmod(filepath.Join(suid, "bash"), 0o755|os.ModeSetuid))
	out := userDir(t)
	const script = `/suid/bash -p -c 'echo $EUID' > /data/euid`

	// Control: same user, all capabilities dropped, but no no-new-privileges.
	// Named and labelled as job 2 of e, so e sees it and its cleanup removes it.
	name := nameOf(cfg, 2)
	ctrlOut := userDir(t)
	_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:      testImage,
			Entrypoint: []string{"bash", "-c", script},
			User:       "23001:23001",
			Labels:     labelsOf(cfg, 2),
		},
		HostConfig: &container.HostConfig{
			CapDrop: []string{"ALL"},
			Mounts: []mount.Mount{
				{Type: mount.TypeBind, Source: suid, Target: "/suid", ReadOnly: true},
				{Type: mount.TypeBind, Source: ctrlOut, Target: "/data"},
			},
		},
	})
	must.NoError(t, err)
	_, err = cli.ContainerStart(ctx, name, client.ContainerStartOptions{})
	must.NoError(t, err)
	waitExited(t, ctx, e, 2)
	if got := readLines(t, filepath.Join(ctrlOut, "euid")); !slices.Equal(got, []string{"0"}) {
		t.Skipf("skipping: the setuid binary does not elevate even without no-new-privileges (euid %v); nothing to prove", got)
	}

	tk := task(3, script,
		executor.Mount{Source: suid, Target: "/suid", ReadOnly: true},
		executor.Mount{Source: out, Target: "/data"})
	_, err = e.Start(ctx, tk)
	must.NoError(t, err)
	st := waitExited(t, ctx, e, 3)
	must.Eq(t, 0, st.ExitCode)
	must.Eq(t, []string{"23001"}, readLines(t, filepath.Join(out, "euid")))
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

// TestMemoryLimit: the engine enforces the task's memory limit.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 25*time.Second)

	tk := task(31, `x=$(head -c 64000000 /dev/zero | tr '\0' a); echo ${#x}`)
	tk.Memory = 16 << 20
	_, err := e.Start(ctx, tk)
	must.NoError(t, err)
	st := waitExited(t, ctx, e, 31)
	must.True(t, st.OOMKilled || st.ExitCode == 137, must.Sprintf("job was not killed for memory: %+v", st))
}

// TestMissingImagePermanent: an image that is not on the engine and cannot be
// pulled is a permanent failure, reported without hanging, leaving nothing.
func TestMissingImagePermanent(t *testing.T) {
	t.Parallel()
	e, _ := newTestExecutorConfig(t, docker.Config{PullTimeout: 15 * time.Second})
	ctx := testContext(t, 20*time.Second)

	tk := task(41, "true")
	tk.Image = "godocker/does-not-exist:nope"
	_, err := e.Start(ctx, tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
	must.NoError(t, ctx.Err(), must.Sprint("the pull only failed at the test's deadline"))
	_, err = e.Inspect(ctx, 41)
	must.ErrorIs(t, err, executor.ErrNotFound)
}

// TestInvalidMountPermanent: a task the engine refuses (a bind mount of a
// path that does not exist) is a permanent failure and leaves no container.
func TestInvalidMountPermanent(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 20*time.Second)

	tk := task(42, "true", executor.Mount{Source: filepath.Join(t.TempDir(), "missing"), Target: "/data"})
	_, err := e.Start(ctx, tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
	_, err = e.Inspect(ctx, 42)
	must.ErrorIs(t, err, executor.ErrNotFound)
}

// TestCapacity: the engine's cpus and memory, unless the config overrides
// them (each on its own).
func TestCapacity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 20*time.Second)
	e := newTestExecutor(t)
	info, err := engineClient(t).Info(ctx, client.InfoOptions{})
	must.NoError(t, err)
	must.Positive(t, info.Info.NCPU)
	must.Positive(t, info.Info.MemTotal)

	c, err := e.Capacity(ctx)
	must.NoError(t, err)
	must.Eq(t, executor.Capacity{CPU: float64(info.Info.NCPU), Memory: info.Info.MemTotal}, c)

	capacity := func(cfg docker.Config) executor.Capacity {
		e, _ := newTestExecutorConfig(t, cfg)
		c, err := e.Capacity(ctx)
		must.NoError(t, err)
		return c
	}
	must.Eq(t, executor.Capacity{CPU: 3.5, Memory: 1 << 30}, capacity(docker.Config{CPU: 3.5, Memory: 1 << 30}))
	must.Eq(t, executor.Capacity{CPU: 1.5, Memory: info.Info.MemTotal}, capacity(docker.Config{CPU: 1.5}))
	must.Eq(t, executor.Capacity{CPU: float64(info.Info.NCPU), Memory: 2 << 30}, capacity(docker.Config{Memory: 2 << 30}))
	// The engine reports no GPUs: only the configuration gives some.
	must.Eq(t, executor.Capacity{CPU: 1, Memory: 1 << 30, GPUs: 2}, capacity(docker.Config{CPU: 1, Memory: 1 << 30, GPUs: 2}))
}

// TestNameAndCapabilities: the executor's name and what it declares.
func TestNameAndCapabilities(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	must.Eq(t, "docker", e.Name())
	must.True(t, executor.Has(e.Capabilities(), executor.CapKill))
	must.True(t, executor.Has(e.Capabilities(), executor.CapPause))
	must.True(t, executor.Has(e.Capabilities(), executor.CapGPUs))
}

// TestStartCancelled: a start cut short by its context (the agent stopping)
// is not a permanent failure and leaves the container for the next Start,
// which starts it (the engine starts a container once); a created
// container that cannot start (its staging mount is gone) never ran, so
// Start makes it anew.
func TestStartCancelled(t *testing.T) {
	t.Parallel()
	e, cfg := newTestExecutorConfig(t, docker.Config{})
	ctx := testContext(t, 25*time.Second)
	cli := engineClient(t)

	// A container created by an attempt that crashed before starting it.
	name := nameOf(cfg, 51)
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:      testImage,
			Entrypoint: []string{"sleep", "30"},
			Labels:     labelsOf(cfg, 51),
		},
	})
	must.NoError(t, err)

	for _, d := range []time.Duration{20, 50, 100, 200} {
		sctx, cancel := context.WithTimeout(ctx, d*time.Millisecond)
		_, err = e.Start(sctx, task(51, "sleep 30"))
		cancel()
		t.Logf("start with %v: %v", d*time.Millisecond, err)
		must.False(t, errors.Is(err, executor.ErrPermanent), must.Sprintf("start cut short after %v: %v", d*time.Millisecond, err))
	}
	// As the agent does, retry while a create cut short is still being
	// carried out by the engine.
	var st *executor.State
	for range 50 {
		if st, err = e.Start(ctx, task(51, "sleep 30")); err == nil {
			break
		}
		t.Logf("start: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
	must.NoError(t, err)
	must.True(t, st.Running)
	must.Eq(t, created.ID, st.ID, must.Sprint("the created container is the one started"))
	again, err := e.Start(ctx, task(51, "sleep 30"))
	must.NoError(t, err)
	must.Eq(t, st.ID, again.ID, must.Sprint("a started one is kept"))

	// Created by an attempt whose staging mount is gone since: it cannot
	// start, so it is made anew, with this attempt's mounts.
	gone := t.TempDir()
	broken, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       nameOf(cfg, 52),
		Config:     &container.Config{Image: testImage, Entrypoint: []string{"true"}, User: "23001:23001", Labels: labelsOf(cfg, 52)},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: gone, Target: "/data"}}},
	})
	must.NoError(t, err)
	must.NoError(t, os.Remove(gone))
	out := userDir(t)
	fresh, err := e.Start(ctx, task(52, "echo ran > /data/ran", executor.Mount{Source: out, Target: "/data"}))
	must.NoError(t, err)
	must.NotEq(t, broken.ID, fresh.ID)
	waitExited(t, ctx, e, 52)
	must.Eq(t, []string{"ran"}, readLines(t, filepath.Join(out, "ran")))
}

// TestPauseUnpause: Pause freezes every process of the job, the first and a
// background child alike, and Inspect reports it paused; Unpause lets them
// all run on; both are idempotent; a missing job is ErrNotFound; a stopped
// one cannot be paused; a paused job can be killed (137).
func TestPauseUnpause(t *testing.T) {
	t.Parallel()
	e := newTestExecutor(t)
	ctx := testContext(t, 40*time.Second)
	dir := userDir(t)
	mainFile, childFile := filepath.Join(dir, "main"), filepath.Join(dir, "child")

	// The child is a forked subshell, a second process beside bash.
	script := `( ` + executortest.CounterLoop("/data/child") + ` ) & ` + executortest.CounterLoop("/data/main")
	_, err := e.Start(ctx, task(61, script, executor.Mount{Source: dir, Target: "/data"}))
	must.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	executortest.WaitCounterAbove(t, wctx, mainFile, 2)
	executortest.WaitCounterAbove(t, wctx, childFile, 2)

	inspect := func() *executor.State {
		t.Helper()
		st, err := e.Inspect(ctx, 61)
		must.NoError(t, err)
		return st
	}
	must.False(t, inspect().Paused)

	// Frozen: neither counter moves for 1.5 s.
	must.NoError(t, e.Pause(ctx, 61))
	st := inspect()
	must.True(t, st.Paused)
	must.True(t, st.Running, must.Sprint("a paused container still counts as running"))
	m1, c1 := executortest.ReadCounter(t, mainFile), executortest.ReadCounter(t, childFile)
	must.Positive(t, m1)
	must.Positive(t, c1)
	time.Sleep(1500 * time.Millisecond)
	must.Eq(t, m1, executortest.ReadCounter(t, mainFile), must.Sprint("the job's first process ran while paused"))
	must.Eq(t, c1, executortest.ReadCounter(t, childFile), must.Sprint("the job's child process ran while paused"))

	must.NoError(t, e.Pause(ctx, 61)) // already paused
	must.True(t, inspect().Paused)

	// Thawed: both counters move on.
	must.NoError(t, e.Unpause(ctx, 61))
	must.False(t, inspect().Paused)
	wctx, cancel = context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	executortest.WaitCounterAbove(t, wctx, mainFile, m1)
	executortest.WaitCounterAbove(t, wctx, childFile, c1)
	must.NoError(t, e.Unpause(ctx, 61)) // not paused
	st = inspect()
	must.False(t, st.Paused)
	must.True(t, st.Running)

	must.ErrorIs(t, e.Pause(ctx, 404), executor.ErrNotFound)
	must.ErrorIs(t, e.Unpause(ctx, 404), executor.ErrNotFound)

	// A paused job is killed at once, no Unpause needed.
	must.NoError(t, e.Pause(ctx, 61))
	must.True(t, inspect().Paused)
	begin := time.Now()
	must.NoError(t, e.Kill(ctx, 61))
	wctx, cancel = context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ended := waitExited(t, wctx, e, 61)
	must.Less(t, 5*time.Second, time.Since(begin))
	must.Eq(t, 137, ended.ExitCode)
	must.False(t, ended.Paused)

	// A stopped job cannot be paused (not ErrNotFound: it exists); unpausing
	// it is a no-op.
	err = e.Pause(ctx, 61)
	must.Error(t, err)
	must.False(t, errors.Is(err, executor.ErrNotFound), must.Sprintf("%v", err))
	must.NoError(t, e.Unpause(ctx, 61))
	must.False(t, inspect().Paused)
}

// TestStoresApart: two stores on one engine under one instance name (two
// agents, or a data dir deleted and started afresh) each see, list, kill
// and remove only their own job 1; the other's container is left alone
// and reported once.
func TestStoresApart(t *testing.T) {
	t.Parallel()
	var logs testlog.Buffer
	e1, cfg1 := newTestExecutorConfig(t, docker.Config{})
	cfg2 := cfg1
	cfg2.StoreID = store.NewID()
	cfg2.Logger = hclog.New(&hclog.LoggerOptions{Output: &logs})
	ctx := testContext(t, 25*time.Second)
	e2, err := docker.New(ctx, cfg2)
	must.NoError(t, err)
	t.Cleanup(func() {
		if states, err := e2.List(context.Background()); err == nil {
			for _, s := range states {
				_ = e2.Remove(context.Background(), s.JobID)
			}
		}
		e2.Close()
	})

	a, err := e1.Start(ctx, task(1, "sleep 30"))
	must.NoError(t, err)
	must.Eq(t, nameOf(cfg1, 1), a.Name)
	_, err = e2.Inspect(ctx, 1)
	must.ErrorIs(t, err, executor.ErrNotFound, must.Sprint("store 2 has no job 1 yet"))
	b, err := e2.Start(ctx, task(1, "exit 3"))
	must.NoError(t, err)
	must.NotEq(t, a.ID, b.ID, must.Sprint("store 2's job 1 gets a container of its own"))
	ended := waitExited(t, ctx, e2, 1)
	must.Eq(t, 3, ended.ExitCode, must.Sprint("its own exit code, not the other's"))

	for i := range 2 {
		l2, err := e2.List(ctx)
		must.NoError(t, err)
		must.SliceLen(t, 1, l2)
		must.Eq(t, b.ID, l2[0].ID, must.Sprintf("list %d", i))
	}
	must.Eq(t, 1, strings.Count(logs.String(), "container of another job store left alone"), must.Sprint(logs.String()))
	must.StrContains(t, logs.String(), cfg1.StoreID)

	must.NoError(t, e2.Kill(ctx, 1))
	must.NoError(t, e2.Remove(ctx, 1))
	st, err := e1.Inspect(ctx, 1)
	must.NoError(t, err)
	must.True(t, st.Running, must.Sprint("store 1's job 1 runs on"))
	must.Eq(t, aliceUID, st.Owner)
	must.False(t, st.Legacy)
}

// TestLegacyContainers: the container of a job made by the release before
// store identities (named <instance>-<id>, no store label) is recognised
// by a store that was migrated with that job (id <= LegacyMaxJob), never by
// a new store; a legacy container of another owner is left alone and the
// job gets a container of its own.
func TestLegacyContainers(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 25*time.Second)
	cli := engineClient(t)
	migrated, cfg := newTestExecutorConfig(t, docker.Config{LegacyMaxJob: 10})
	fresh := cfg
	fresh.StoreID = store.NewID()
	fresh.LegacyMaxJob = 0
	newStore, err := docker.New(ctx, fresh)
	must.NoError(t, err)
	t.Cleanup(func() { newStore.Close() })

	legacy := func(id int64, uid int) string {
		name := fmt.Sprintf("%s-%d", cfg.Instance, id)
		_, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name: name,
			Config: &container.Config{Image: testImage, Entrypoint: []string{"sleep", "30"}, User: fmt.Sprintf("%d:%d", uid, uid),
				Labels: map[string]string{docker.LabelInstance: cfg.Instance, docker.LabelJobID: strconv.FormatInt(id, 10)}},
		})
		must.NoError(t, err)
		_, err = cli.ContainerStart(ctx, name, client.ContainerStartOptions{})
		must.NoError(t, err)
		t.Cleanup(func() {
			_, _ = cli.ContainerRemove(context.Background(), name, client.ContainerRemoveOptions{Force: true})
		})
		return name
	}
	mine := legacy(4, aliceUID)
	theirs := legacy(5, 23002)

	st, err := migrated.Inspect(ctx, 4)
	must.NoError(t, err)
	must.True(t, st.Legacy)
	must.Eq(t, mine, st.Name)
	must.True(t, st.OwnedBy(aliceUID, aliceUID))
	must.False(t, st.OwnedBy(23002, 23002))
	again, err := migrated.Start(ctx, task(4, "sleep 30"))
	must.NoError(t, err)
	must.Eq(t, st.ID, again.ID, must.Sprint("the legacy container is adopted, not started twice"))
	listed, err := migrated.List(ctx)
	must.NoError(t, err)
	must.SliceLen(t, 2, listed, must.Sprint("both legacy containers are the migrated store's to look at"))

	_, err = newStore.Inspect(ctx, 4)
	must.ErrorIs(t, err, executor.ErrNotFound, must.Sprint("a new store never sees legacy containers"))
	none, err := newStore.List(ctx)
	must.NoError(t, err)
	must.SliceEmpty(t, none)

	// Job 5 of the migrated store is alice's: the legacy container 5 runs
	// as someone else, so it is not hers.
	own, err := migrated.Start(ctx, task(5, "exit 3"))
	must.NoError(t, err)
	must.Eq(t, nameOf(cfg, 5), own.Name)
	must.Eq(t, 3, waitExited(t, ctx, migrated, 5).ExitCode)
	must.NoError(t, migrated.Remove(ctx, 5))
	res, err := cli.ContainerInspect(ctx, theirs, client.ContainerInspectOptions{})
	must.NoError(t, err)
	must.True(t, res.Container.State.Running, must.Sprint("the other's legacy container is left alone"))
}
