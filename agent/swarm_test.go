package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/jobstore"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	godswarm "github.com/godocker/god/plugins/executor/swarm"
)

// startSwarmAgent starts an agent with executor = "swarm" on the local
// engine as a one-node Swarm manager (scripts/testenv-swarm.sh), jobs
// going through god-nnp as this 20.10 engine needs.
func startSwarmAgent(t *testing.T) *testAgent {
	t.Helper()
	needDocker(t)
	cli, err := client.New(client.WithHost("unix:///var/run/docker.sock"))
	must.NoError(t, err)
	defer cli.Close()
	info, err := cli.Info(context.Background(), client.InfoOptions{})
	must.NoError(t, err)
	if info.Info.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the Swarm tests: the engine is not a Swarm manager (%q)", info.Info.Swarm.LocalNodeState)
		}
		t.Skipf("skipping: the Docker engine is not a Swarm manager (state %q); run `make testenv` as root", info.Info.Swarm.LocalNodeState)
	}
	helper := filepath.Join(t.TempDir(), "god-nnp")
	must.NoError(t, os.Chmod(filepath.Dir(helper), 0o755))
	build := exec.Command("go", "build", "-o", helper, "github.com/godocker/god/cmd/god-nnp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	must.NoError(t, err, must.Sprint(string(out)))

	cfg := testConfig(t)
	cfg.Executor = "swarm"
	cfg.Swarm = &config.Swarm{NNPHelper: helper, PollInterval: "200ms"}
	must.NoError(t, cfg.Finalize())
	st, err := jobstore.Open(context.Background(), cfg)
	must.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	w := cfg.Swarm
	ex, err := godswarm.New(ctx, godswarm.Config{Instance: w.Instance, StoreID: st.Identity().ID, NNPHelper: w.NNPHelper, PollInterval: w.PollIntervalDuration})
	must.NoError(t, err)
	log := hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Debug, Output: testWriter{t}})
	a, err := New(cfg, Options{Store: st.Store, Executor: ex, Scheduler: Policy(cfg.Scheduler), Logger: log})
	must.NoError(t, err)
	ta := &testAgent{Agent: a, t: t, opened: st, instance: w.Instance, cancel: cancel, done: make(chan error, 1)}
	go func() { ta.done <- a.Run(ctx) }()
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
		if states, err := ex.List(context.Background()); err == nil {
			for _, s := range states {
				_ = ex.Remove(context.Background(), s.JobID)
			}
		}
		ex.Close()
	})
	t.Cleanup(func() { // before the agent stops: the service must be gone
		if t.Failed() {
			return
		}
		for _, id := range ta.swarmJobs {
			waitSwarmGone(t, ex, id)
		}
	})
	return ta
}

func waitSwarmGone(t *testing.T, ex executor.Executor, id int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := ex.Inspect(context.Background(), id)
		if errors.Is(err, executor.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the service of job %d is still there: %v", id, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A job submitted to an agent on Swarm runs as its submitter, with its
// job directory, output and exit code as on the local engine; it can be
// suspended and resumed (its task runs on the manager's node), and
// stopped (137); its service goes once its end is recorded.
func TestSwarmAgent_EndToEnd(t *testing.T) {
	ta := startSwarmAgent(t)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{
		Name:    "on-swarm",
		Command: `whoami; id -u; id -G; echo "PWD=$PWD JID=$GODOCKER_JID"; grep NoNewPrivs /proc/self/status; echo oops >&2; exit 3`,
	})
	ta.swarmJobs = append(ta.swarmJobs, id)
	j := ta.waitOver(alice, id)
	must.Eq(t, 3, exitCode(j))
	must.Eq(t, "", j.Status.Secondary)
	must.NotNil(t, j.Container)
	must.Eq(t, "swarm", j.Container.Executor)
	must.StrContains(t, j.Container.Links[godswarm.LinkService], fmt.Sprintf("-%d", id))
	lines := strings.Split(strings.TrimSpace(ta.readJobFile(id, "god.log")), "\n")
	must.SliceLen(t, 5, lines, must.Sprint(lines))
	must.Eq(t, "god-alice", lines[0])
	must.Eq(t, "23001", lines[1])
	must.StrContains(t, lines[2], "23100")
	must.Eq(t, fmt.Sprintf("PWD=/mnt/go-docker JID=%d", id), lines[3])
	must.Eq(t, "NoNewPrivs:\t1", lines[4])
	must.Eq(t, "oops\n", ta.readJobFile(id, "god.err"))
	must.StrContains(t, ta.readJobFile(id, "god.info"), "exit=3")

	long := ta.submit(alice, api.JobSpec{Name: "long", Command: `echo up; sleep 120`})
	ta.swarmJobs = append(ta.swarmJobs, long)
	ta.waitRunning(alice, long)
	ta.waitOutput(long, "up")
	_, err := ta.Suspend(context.Background(), alice, long)
	must.NoError(t, err)
	ta.waitStatus(alice, long, "suspended", func(s api.Status) bool { return s.Secondary == api.SecondarySuspended })
	_, err = ta.Resume(context.Background(), alice, long)
	must.NoError(t, err)
	_, err = ta.Stop(context.Background(), alice, long)
	must.NoError(t, err)
	j = ta.waitOver(alice, long)
	must.Eq(t, api.ExitKilled, exitCode(j))
}

// notPausable is an executor that declares CapPause but cannot pause this
// job (as Swarm for a task on a node whose engine the agent does not
// reach).
type notPausable struct{ executor.Executor }

func (notPausable) Pause(context.Context, int64) error {
	return fmt.Errorf("job runs on node far, whose engine this agent does not reach: %w", executor.ErrNotSupported)
}

// An executor's refusal to pause one job is a 501 with its reason, not a
// 500.
func TestSuspend_NotSupportedForJob(t *testing.T) {
	needDocker(t)
	cfg := testConfig(t)
	must.NoError(t, cfg.Finalize())
	ta := runAgentWrapped(t, cfg, func(e executor.Executor) executor.Executor { return notPausable{e} })
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "far", Command: "echo up; sleep 60"})
	ta.waitRunning(alice, id)
	_, err := ta.Suspend(context.Background(), alice, id)
	var ae *Error
	must.True(t, errors.As(err, &ae), must.Sprintf("%v", err))
	must.Eq(t, http.StatusNotImplemented, ae.Code)
	must.StrContains(t, ae.Msg, "whose engine this agent does not reach")
	_, err = ta.Stop(context.Background(), alice, id)
	must.NoError(t, err)
	ta.waitOver(alice, id)
}
