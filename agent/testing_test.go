package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/agent/jobstore"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/docker"
)

// testImage is built by scripts/testenv.sh (busybox + bash).
const testImage = "godocker/bash:local"

var instanceSeq atomic.Int64

// testAgent is an in-process agent on the real Docker engine, with its own
// data dir and its own container namespace (instance name).
type testAgent struct {
	*Agent
	t        *testing.T
	opened   *jobstore.Store
	exec     *docker.Executor
	instance string
	// swarmJobs are the jobs whose services must be gone at the end
	// (startSwarmAgent).
	swarmJobs []int64
	cancel    context.CancelFunc
	done      chan error
}

// needDocker skips without an engine, except in CI, which installs one.
func needDocker(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run against a Docker engine: %v (run scripts/testenv.sh)", err)
		}
		t.Skipf("skipping: no Docker engine (%v); run `make testenv` as root", err)
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs the agent tests as root")
		}
		t.Skip("skipping: the agent tests run jobs as other users and need root")
	}
}

// testUser is a local user calling through the Unix socket, as the kernel
// would identify them (root is an admin).
func testUser(t *testing.T, uid int) *api.Caller {
	t.Helper()
	u, err := identity.Lookup(uid)
	if err != nil {
		t.Skipf("skipping: test user %d missing (%v); run `make testenv` as root", uid, err)
	}
	return &api.Caller{User: u, Login: u.Name, Kind: api.AccountLocal, Admin: uid == 0, Via: api.ViaUnix}
}

const (
	aliceUID = 23001
	bobUID   = 23002
	labGID   = 23100
)

// startAgent starts an agent; configure may change its config before start.
func startAgent(t *testing.T, configure func(*config.Config)) *testAgent {
	t.Helper()
	needDocker(t)
	cfg := testConfig(t)
	if configure != nil {
		configure(cfg)
	}
	must.NoError(t, cfg.Finalize())
	return runAgent(t, cfg)
}

// testConfig is a system agent's config in a temporary data dir, on a
// Docker instance of its own.
func testConfig(t *testing.T) *config.Config {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Socket = filepath.Join(dir, "god.sock")
	cfg.Defaults.Image = testImage
	cfg.Defaults.Memory = "128MiB"
	cfg.Docker.Instance = fmt.Sprintf("godtest-%d-%d", os.Getpid(), instanceSeq.Add(1))
	return cfg
}

func runAgent(t *testing.T, cfg *config.Config) *testAgent {
	t.Helper()
	return runAgentWrapped(t, cfg, nil)
}

// runAgentWrapped is runAgent with the executor wrapped (wrap may be nil).
func runAgentWrapped(t *testing.T, cfg *config.Config, wrap func(executor.Executor) executor.Executor) *testAgent {
	t.Helper()
	st, err := jobstore.Open(context.Background(), cfg)
	must.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ex, err := docker.New(ctx, docker.Config{Instance: cfg.Docker.Instance, StoreID: st.Identity().ID, CPU: cfg.Docker.CPU, Memory: cfg.Docker.MemoryBytes})
	must.NoError(t, err)
	log := hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: testWriter{t}})
	var run executor.Executor = ex
	if wrap != nil {
		run = wrap(ex)
	}
	a, err := New(cfg, Options{Store: st.Store, Executor: run, Scheduler: Policy(cfg.Scheduler), Logger: log})
	must.NoError(t, err)
	ta := &testAgent{Agent: a, t: t, opened: st, exec: ex, instance: cfg.Docker.Instance, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx) }()
	// Ready once the API answers a request: the agent serves only after
	// loading its queue and ledger and reconciling with the engine.
	hc := rawClient(cfg.Socket)
	for i := 0; ; i++ {
		resp, err := hc.Get("http://god/v1/agent/self")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 1000 {
			t.Fatalf("agent did not start serving: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		ta.stop()
		st.Close()
		// Leave no container behind, whatever the test did.
		if states, err := ex.List(context.Background()); err == nil {
			for _, s := range states {
				_ = ex.Remove(context.Background(), s.JobID)
			}
		}
		ex.Close()
	})
	return ta
}

// stop shuts the agent down gracefully (containers keep running).
func (ta *testAgent) stop() {
	if ta.cancel == nil {
		return
	}
	ta.cancel()
	ta.cancel = nil
	select {
	case err := <-ta.done:
		must.NoError(ta.t, err)
	case <-time.After(30 * time.Second):
		ta.t.Fatal("agent did not stop")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (ta *testAgent) submit(u *api.Caller, spec api.JobSpec) int64 {
	ta.t.Helper()
	j, err := ta.Submit(context.Background(), u, &spec)
	must.NoError(ta.t, err)
	return j.ID
}

// waitFor blocks until cond holds for the job (through blocking queries).
func (ta *testAgent) waitFor(u *api.Caller, id int64, what string, cond func(*api.Job) bool) *api.Job {
	ta.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var index int64
	for {
		j, err := ta.Job(ctx, u, id, index, 10*time.Second)
		must.NoError(ta.t, err, must.Sprintf("waiting for job %d to be %s", id, what))
		if cond(j) {
			return j
		}
		index = j.Version
	}
}

func (ta *testAgent) waitOver(u *api.Caller, id int64) *api.Job {
	return ta.waitFor(u, id, "over", func(j *api.Job) bool { return j.Status.Primary == api.StateOver })
}

func (ta *testAgent) waitRunning(u *api.Caller, id int64) *api.Job {
	return ta.waitFor(u, id, "running", func(j *api.Job) bool { return j.Status.Primary != api.StatePending })
}

// readJobFile reads a file of a job directory on the host.
func (ta *testAgent) readJobFile(id int64, name string) string {
	ta.t.Helper()
	b, err := os.ReadFile(filepath.Join(ta.jobDir(id), name))
	must.NoError(ta.t, err)
	return string(b)
}

func exitCode(j *api.Job) int {
	if j.Status.ExitCode == nil {
		return -1
	}
	return *j.Status.ExitCode
}

// waitGone waits until the job's container has been removed.
func (ta *testAgent) waitGone(id int64) {
	ta.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := ta.exec.Inspect(context.Background(), id)
		if errors.Is(err, executor.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			ta.t.Fatalf("container of job %d still there: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOutput waits until the job's god.log contains want.
func (ta *testAgent) waitOutput(id int64, want string) {
	ta.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(ta.jobDir(id), "god.log"))
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			ta.t.Fatalf("job %d never wrote %q; god.log: %q", id, want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart stops the agent gracefully and starts a new one on the same data
// dir and engine namespace, as an operator restarting the daemon would.
func (ta *testAgent) restart() *testAgent {
	ta.t.Helper()
	cfg := ta.cfg
	ta.stop()
	must.NoError(ta.t, ta.opened.Close())
	return runAgent(ta.t, cfg)
}

// runningContainers counts the job containers running on the engine now.
func (ta *testAgent) runningContainers() int {
	ta.t.Helper()
	states, err := ta.exec.List(context.Background())
	must.NoError(ta.t, err)
	n := 0
	for _, s := range states {
		if s.Running {
			n++
		}
	}
	return n
}

// waitState waits for the job's status to satisfy cond.
func (ta *testAgent) waitStatus(u *api.Caller, id int64, what string, cond func(api.Status) bool) *api.Job {
	return ta.waitFor(u, id, what, func(j *api.Job) bool { return cond(j.Status) })
}
