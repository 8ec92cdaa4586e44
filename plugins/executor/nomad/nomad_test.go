package nomad_test

// The executor suite is written once, as scenarios that take a harness (a
// Nomad address and what the mode allows), and runs twice:
//
//   - TestLive: against a real Nomad (live_test.go), when there is one; with
//     GOD_NOMAD_RECORD=1 each scenario's exchanges are recorded to testdata.
//   - TestReplay: always, against those recordings (cassette_test.go), so CI
//     without Nomad still checks every request the executor sends and how
//     it reads every answer.
//
// Both modes make exactly the same Nomad requests; only checks that look
// past Nomad (the container the Docker engine holds, files the job wrote on
// the host) are live-only.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad/api"
	"github.com/moby/moby/client"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/internal/testlog"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/nomad"
	"github.com/godocker/god/store"
)

const (
	aliceUID = 23001
	aliceGID = 23001
	labGID   = 23100
)

// testImage is built by scripts/testenv.sh (busybox + bash). Never :latest:
// Nomad would always try to pull it.
const testImage = "godocker/bash:local"

type scenario struct {
	name string
	run  func(t *testing.T, h *harness)
}

var scenarios = []scenario{
	{"run_as_user", scenarioRunAsUser},
	{"root_job", scenarioRootJob},
	{"exit_code", scenarioExitCode},
	{"kill", scenarioKill},
	{"missing_image", scenarioMissingImage},
	{"unplaceable", scenarioUnplaceable},
	{"idempotent_start", scenarioIdempotentStart},
	{"restart", scenarioRestart},
	{"events", scenarioEvents},
	{"capacity", scenarioCapacity},
	{"out_of_memory", scenarioOutOfMemory},
	{"other_store", scenarioOtherStore},
	{"legacy", scenarioLegacy},
	{"graceful_stop", scenarioGracefulStop},
}

// harness is what a scenario gets: where Nomad answers and how the mode
// behaves.
type harness struct {
	t        *testing.T
	addr     string
	instance string
	// stores are the ids of the job stores the scenario's executors run
	// for: the first one unless a scenario says otherwise (live: random;
	// replay: fixed).
	stores  []string
	hostDir string // host directory for mounts (live: real; replay: a name)
	live    bool
	clock   func() time.Time // replay: the recorded clock
	nomad   *api.Client      // the test's own look at Nomad, same address
}

var instanceSeq atomic.Int64

func TestLive(t *testing.T) {
	addr := liveNomad(t)
	recording := os.Getenv("GOD_NOMAD_RECORD") == "1"
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if !recording {
				t.Parallel() // recordings run alone: the event stream sees everything
			}
			b := make([]byte, 3)
			_, _ = rand.Read(b)
			h := &harness{
				t:        t,
				addr:     addr,
				instance: fmt.Sprintf("godtest-%d-%d-%s", os.Getpid(), instanceSeq.Add(1), hex.EncodeToString(b)),
				stores:   []string{store.NewID(), store.NewID()},
				hostDir:  t.TempDir(),
				live:     true,
			}
			must.NoError(t, os.Chmod(h.hostDir, 0o755))
			if recording {
				r := record(t, addr, sc.name, h.instance, h.stores, h.hostDir)
				h.addr = r.srv.URL
			}
			h.connect()
			sc.run(t, h)
		})
	}
}

func TestReplay(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := replay(t, sc.name)
			h := &harness{
				t:        t,
				addr:     r.srv.URL,
				instance: replayInstance,
				stores:   replayStores,
				hostDir:  replayHostDir,
				clock:    r.now,
			}
			h.connect()
			sc.run(t, h)
		})
	}
}

func (h *harness) connect() {
	cli, err := api.NewClient(&api.Config{Address: h.addr})
	must.NoError(h.t, err)
	h.nomad = cli
	h.t.Cleanup(cli.Close)
}

func (h *harness) ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	h.t.Cleanup(cancel)
	return ctx
}

// executor connects an executor of this scenario's instance; every Nomad
// job of the instance is purged when the test ends.
func (h *harness) executor(cfg nomad.Config) *nomad.Executor {
	h.t.Helper()
	e := h.connectExecutor(cfg)
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		states, err := e.List(ctx)
		if err != nil {
			h.t.Errorf("cleanup: listing jobs of instance %s: %v", h.instance, err)
			return
		}
		for _, s := range states {
			if err := e.Remove(ctx, s.JobID); err != nil {
				h.t.Errorf("cleanup: %v", err)
			}
		}
	})
	return e
}

// connectExecutor is executor without the cleanup: a second executor of
// the same instance (an agent restart).
func (h *harness) connectExecutor(cfg nomad.Config) *nomad.Executor {
	h.t.Helper()
	cfg.Address = h.addr
	cfg.Instance = h.instance
	if cfg.StoreID == "" {
		cfg.StoreID = h.stores[0]
	}
	e, err := nomad.New(h.ctx(10*time.Second), cfg)
	must.NoError(h.t, err)
	if h.clock != nil {
		e.SetClock(h.clock)
	}
	h.t.Cleanup(func() { e.Close() })
	return e
}

// nomadID is the Nomad job id of job jobID of the scenario's first store.
func (h *harness) nomadID(jobID int64) string { return h.nomadIDOf(h.stores[0], jobID) }

// nomadIDOf is the Nomad job id of job jobID of a store: the instance, the
// store id's first 8 digits, the job id.
func (h *harness) nomadIDOf(storeID string, jobID int64) string {
	return h.instance + "-" + storeID[:8] + "-" + strconv.FormatInt(jobID, 10)
}

// within is how long to wait for something Nomad does: a replay has it
// at once.
func (h *harness) within(live time.Duration) time.Duration {
	if h.live {
		return live
	}
	return 5 * time.Second
}

// pause waits between polls of a live Nomad; a replay needs no wait.
func (h *harness) pause() {
	if h.live {
		time.Sleep(200 * time.Millisecond)
	}
}

// waitFor polls Inspect until cond holds. On replay the polls get the
// recorded answers in order, so they end where the recording did.
func (h *harness) waitFor(e *nomad.Executor, jobID int64, what string, cond func(*executor.State) bool) *executor.State {
	h.t.Helper()
	ctx := h.ctx(2 * time.Minute)
	for {
		st, err := e.Inspect(ctx, jobID)
		must.NoError(h.t, err, must.Sprintf("waiting for job %d to be %s", jobID, what))
		if cond(st) {
			return st
		}
		if ctx.Err() != nil {
			h.t.Fatalf("job %d not %s: last state %+v", jobID, what, st)
		}
		h.pause()
	}
}

func (h *harness) waitEnded(e *nomad.Executor, jobID int64) *executor.State {
	h.t.Helper()
	return h.waitFor(e, jobID, "ended", func(st *executor.State) bool { return !st.Running })
}

func (h *harness) waitStarted(e *nomad.Executor, jobID int64) *executor.State {
	h.t.Helper()
	st := h.waitFor(e, jobID, "started", func(st *executor.State) bool { return !st.Running || !st.StartedAt.IsZero() })
	if !st.Running {
		h.t.Fatalf("job %d ended instead of running: %+v", jobID, st)
	}
	return st
}

// userDir is a host directory under hostDir that the test user owns (live).
func (h *harness) userDir(name string) string {
	dir := filepath.Join(h.hostDir, name)
	if h.live {
		must.NoError(h.t, os.Mkdir(dir, 0o755))
		if os.Geteuid() == 0 {
			must.NoError(h.t, os.Chown(dir, aliceUID, aliceGID))
		} else {
			must.NoError(h.t, os.Chmod(dir, 0o777))
		}
	}
	return dir
}

func (h *harness) logs(e *nomad.Executor, jobID int64, stderr bool) string {
	h.t.Helper()
	r, err := e.Logs(h.ctx(20*time.Second), jobID, stderr)
	must.NoError(h.t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	must.NoError(h.t, err)
	return string(b)
}

// waitLogs reads the job's output until it is complete: Nomad's log
// collector may copy the last lines a moment after the task ended. (It
// may also miss the output of a container that ends within a moment of
// starting, hashicorp/nomad#6931: the jobs here sleep a second before
// ending.)
func (h *harness) waitLogs(e *nomad.Executor, jobID int64, stderr bool, complete func(string) bool) string {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := h.logs(e, jobID, stderr)
		if complete(out) || time.Now().After(deadline) {
			return out
		}
		h.pause()
	}
}

func equals(want string) func(string) bool { return func(s string) bool { return s == want } }

// nomadJob is the job as Nomad stores it.
func (h *harness) nomadJob(id string) *api.Job {
	h.t.Helper()
	job, _, err := h.nomad.Jobs().Info(id, (&api.QueryOptions{}).WithContext(h.ctx(10*time.Second)))
	must.NoError(h.t, err)
	return job
}

func (h *harness) allocations(id string) []*api.AllocationListStub {
	h.t.Helper()
	allocs, _, err := h.nomad.Jobs().Allocations(id, true, (&api.QueryOptions{}).WithContext(h.ctx(10*time.Second)))
	must.NoError(h.t, err)
	return allocs
}

// container is what the Docker engine holds for a running job (live only).
func (h *harness) container(jobID int64) client.ContainerInspectResult {
	h.t.Helper()
	cli, err := client.New(client.FromEnv)
	must.NoError(h.t, err)
	defer cli.Close()
	ctx := h.ctx(10 * time.Second)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: client.Filters{}.
			Add("label", nomad.LabelInstance+"="+h.instance).
			Add("label", nomad.LabelStoreID+"="+h.stores[0]).
			Add("label", nomad.LabelJobID+"="+strconv.FormatInt(jobID, 10)),
	})
	must.NoError(h.t, err)
	must.SliceLen(h.t, 1, list.Items, must.Sprintf("containers of job %d", jobID))
	res, err := cli.ContainerInspect(ctx, list.Items[0].ID, client.ContainerInspectOptions{})
	must.NoError(h.t, err)
	return res
}

// task is a job of the test user running a bash script.
func task(jobID int64, script string, mounts ...executor.Mount) *executor.Task {
	return &executor.Task{
		JobID:      jobID,
		Name:       "test-" + strconv.FormatInt(jobID, 10),
		Owner:      aliceUID,
		Image:      testImage,
		Entrypoint: []string{"bash", "-c", script},
		UID:        aliceUID,
		GID:        aliceGID,
		Groups:     []int{labGID},
		Mounts:     mounts,
		Memory:     64 << 20,
	}
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// statusFields reads "Key:\tvalue" lines (from /proc/self/status).
func statusFields(out string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(out) {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

// scenarioRunAsUser: the job runs as the user's uid, gid and groups, with
// its env, workdir and mounts (read-only ones really read-only), confined
// (no capabilities, no new privileges), ends with exit 0, and its output
// is read back through Nomad's filesystem API. The Nomad job carries what
// GoDocker needs and nothing lets Nomad run it twice.
func scenarioRunAsUser(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{JobURL: "https://god.example.org/ui/jobs/{id}", UIURL: "https://nomad.example.org:4646/", CPUMHzPerCore: 1000})
	ctx := h.ctx(2 * time.Minute)
	work, in := h.userDir("work"), h.userDir("in")
	if h.live {
		must.NoError(t, os.WriteFile(filepath.Join(in, "input"), []byte("from host\n"), 0o644))
	}
	tk := task(1, `id -u; id -g; id -G; echo "$GOD_TEST_VAR"; pwd; cat /in/input
if touch /in/x 2>/dev/null; then echo ro-writable; else echo ro-denied; fi
echo out > out.txt; echo to-stderr >&2
grep -E '^(NoNewPrivs|CapInh|CapPrm|CapEff|CapBnd|CapAmb|Uid|Gid|Groups):' /proc/self/status
sleep 2`,
		executor.Mount{Source: work, Target: "/work"},
		executor.Mount{Source: in, Target: "/in", ReadOnly: true})
	tk.Env = []string{"GOD_TEST_VAR=hello world"}
	tk.WorkDir = "/work"
	tk.CPU = 0.5

	st, err := e.Start(ctx, tk)
	must.NoError(t, err)
	id := h.nomadID(1)
	must.Eq(t, id, st.ID)
	must.Eq(t, id, st.Name)
	must.Eq(t, int64(1), st.JobID)
	must.Eq(t, aliceUID, st.Owner)
	must.False(t, st.Legacy)
	must.True(t, st.Running)
	must.Eq(t, id, st.Links[executor.LinkNomadJob])
	must.Eq(t, "https://nomad.example.org:4646/ui/jobs/"+id+"@default", st.Links[executor.LinkNomadUI])

	// What Nomad holds: identity, confinement, limits, links, no reruns.
	job := h.nomadJob(id)
	must.Eq(t, "batch", *job.Type)
	must.Eq(t, map[string]string{
		nomad.MetaID:       "1",
		nomad.MetaInstance: h.instance,
		nomad.MetaName:     "test-1",
		nomad.MetaURL:      "https://god.example.org/ui/jobs/1",
		nomad.MetaStore:    h.stores[0],
		nomad.MetaOwner:    strconv.Itoa(aliceUID),
	}, job.Meta)
	must.SliceLen(t, 1, job.TaskGroups)
	tg := job.TaskGroups[0]
	must.Eq(t, 1, *tg.Count)
	must.Eq(t, 0, *tg.RestartPolicy.Attempts)
	must.Eq(t, "fail", *tg.RestartPolicy.Mode)
	must.Eq(t, 0, *tg.ReschedulePolicy.Attempts)
	must.False(t, *tg.ReschedulePolicy.Unlimited)
	must.False(t, *tg.Disconnect.Replace)
	must.SliceLen(t, 1, tg.Tasks)
	nt := tg.Tasks[0]
	must.Eq(t, "docker", nt.Driver)
	must.Eq(t, "23001:23001", nt.User)
	must.Eq(t, "hello world", nt.Env["GOD_TEST_VAR"])
	must.Eq(t, 500, *nt.Resources.CPU) // 0.5 core at 1000 MHz per core
	must.Eq(t, 64, *nt.Resources.MemoryMB)
	must.Eq(t, "SIGTERM", nt.KillSignal)
	must.Eq(t, 5*time.Second, *nt.KillTimeout) // the job has none: the configured one
	cfg := nt.Config
	must.Eq[any](t, testImage, cfg["image"])
	must.Eq[any](t, false, cfg["privileged"])
	must.Eq[any](t, []any{"ALL"}, cfg["cap_drop"])
	must.MapNotContainsKey(t, cfg, "cap_add")
	must.Eq[any](t, []any{"no-new-privileges"}, cfg["security_opt"])
	must.Eq[any](t, true, cfg["init"])
	must.Eq[any](t, float64(4096), cfg["pids_limit"])
	must.Eq[any](t, []any{"23100"}, cfg["group_add"])
	must.Eq[any](t, true, cfg["cpu_hard_limit"])
	must.Eq[any](t, "/work", cfg["work_dir"])
	for _, k := range []string{"network_mode", "pid_mode", "ipc_mode", "userns_mode", "uts_mode", "devices", "volumes"} {
		must.MapNotContainsKey(t, cfg, k)
	}
	mounts, _ := cfg["mount"].([]any)
	labels, _ := cfg["labels"].([]any)
	must.SliceLen(t, 1, labels)
	must.Eq[any](t, map[string]any{
		nomad.LabelJobID:    "1",
		nomad.LabelInstance: h.instance,
		nomad.LabelJobName:  "test-1",
		nomad.LabelStoreID:  h.stores[0],
		nomad.LabelOwner:    strconv.Itoa(aliceUID),
	}, labels[0])
	must.SliceLen(t, 2, mounts)
	m0, _ := mounts[0].(map[string]any)
	must.Eq[any](t, "bind", m0["type"])
	must.Eq[any](t, work, m0["source"])
	must.Eq[any](t, "/work", m0["target"])
	must.Eq[any](t, false, m0["readonly"])
	m1, _ := mounts[1].(map[string]any)
	must.Eq[any](t, true, m1["readonly"])

	running := h.waitStarted(e, 1)
	must.NotEq(t, "", running.Node)
	must.NotEq(t, "", running.Links[executor.LinkNomadAlloc])
	if h.live {
		// What the engine holds: Nomad's driver applied the confinement.
		c := h.container(1).Container
		must.Eq(t, "23001:23001", c.Config.User)
		must.Eq(t, h.stores[0], c.Config.Labels[nomad.LabelStoreID])
		must.Eq(t, strconv.Itoa(aliceUID), c.Config.Labels[nomad.LabelOwner])
		hc := c.HostConfig
		must.False(t, hc.Privileged)
		must.Eq(t, []string{"ALL"}, hc.CapDrop)
		must.SliceEmpty(t, hc.CapAdd)
		must.SliceContains(t, hc.SecurityOpt, "no-new-privileges")
		must.True(t, hc.Init != nil && *hc.Init)
		must.Eq(t, []string{"23100"}, hc.GroupAdd)
		must.Eq(t, int64(64<<20), hc.Memory)
		must.Eq(t, int64(64<<20), hc.MemorySwap)
		must.Eq(t, int64(4096), *hc.PidsLimit)
		must.Positive(t, hc.CPUQuota)
		must.False(t, hc.NetworkMode.IsHost())
		must.False(t, hc.PidMode.IsHost())
		must.False(t, hc.IpcMode.IsHost())
	}

	ended := h.waitEnded(e, 1)
	must.Eq(t, 0, ended.ExitCode, must.Sprintf("state %+v", ended))
	must.Eq(t, "", ended.Error)
	must.Eq(t, aliceUID, ended.Owner)
	must.False(t, ended.OOMKilled)
	must.False(t, ended.Requeue)
	must.Eq(t, running.Node, ended.Node)
	must.Eq(t, running.Links[executor.LinkNomadAlloc], ended.Links[executor.LinkNomadAlloc])
	must.False(t, ended.StartedAt.IsZero())
	must.True(t, ended.FinishedAt.After(ended.StartedAt))

	out := h.waitLogs(e, 1, false, func(s string) bool { return strings.Contains(s, "Groups:") })
	got := lines(out)
	must.SliceLen(t, 16, got, must.Sprintf("stdout:\n%s", out))
	must.Eq(t, []string{"23001", "23001", "23001 23100", "hello world", "/work", "from host", "ro-denied"}, got[:7])
	status := statusFields(strings.Join(got[7:], "\n"))
	must.Eq(t, "1", status["NoNewPrivs"])
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		must.Eq(t, "0000000000000000", status[k], must.Sprintf("%s", k))
	}
	must.Eq(t, "23001 23001 23001 23001", status["Uid"])
	must.Eq(t, "23001 23001 23001 23001", status["Gid"])
	must.StrContains(t, status["Groups"], "23100")
	must.Eq(t, "to-stderr\n", h.waitLogs(e, 1, true, equals("to-stderr\n")))

	if h.live {
		fi, err := os.Stat(filepath.Join(work, "out.txt"))
		must.NoError(t, err)
		must.Eq(t, uint32(aliceUID), fi.Sys().(*syscall.Stat_t).Uid)
		_, err = os.Stat(filepath.Join(in, "x"))
		must.ErrorIs(t, err, os.ErrNotExist)
	}

	_, err = e.Logs(ctx, 404, false)
	must.ErrorIs(t, err, executor.ErrNotFound)
}

// scenarioRootJob: a root job (allowed by the agent's policy) keeps the
// engine's default capabilities minus the dangerous ones, never more.
func scenarioRootJob(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	ctx := h.ctx(time.Minute)
	tk := task(2, "grep -E '^(Uid|CapEff):' /proc/self/status; sleep 1")
	tk.UID, tk.GID, tk.Groups = 0, 0, nil
	_, err := e.Start(ctx, tk)
	must.NoError(t, err)
	nt := h.nomadJob(h.nomadID(2)).TaskGroups[0].Tasks[0]
	must.Eq(t, "0:0", nt.User)
	must.Eq(t, strconv.Itoa(aliceUID), h.nomadJob(h.nomadID(2)).Meta[nomad.MetaOwner]) // the submitter, not root
	must.Eq[any](t, []any{"MKNOD", "SETFCAP", "NET_RAW", "AUDIT_WRITE", "SYS_CHROOT"}, nt.Config["cap_drop"])
	must.Eq[any](t, false, nt.Config["privileged"])
	must.Eq[any](t, []any{"no-new-privileges"}, nt.Config["security_opt"])
	must.MapNotContainsKey(t, nt.Config, "cpu_hard_limit") // no cores asked: no quota
	st := h.waitEnded(e, 2)
	must.Eq(t, 0, st.ExitCode)
	must.Eq(t, aliceUID, st.Owner)
	must.True(t, st.OwnedBy(aliceUID, 0))
	status := statusFields(h.waitLogs(e, 2, false, func(s string) bool { return strings.Contains(s, "CapEff") }))
	must.Eq(t, "0 0 0 0", status["Uid"])
	must.NotEq(t, "0000000000000000", status["CapEff"])
	must.NotEq(t, "000001ffffffffff", status["CapEff"]) // not every capability
}

// scenarioExitCode: a non-zero exit is reported as such, not as an engine
// error. The command and the environment reach the job as written: Nomad
// interpolates ${...} in driver config and env values, which the executor
// escapes.
func scenarioExitCode(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	const tricky = "${NOMAD_JOB_ID} $${y} ${node.unique.name} %{z} it's \\ \"q\""
	tk := task(7, `echo '${#x} $${y} %{z} ${NOMAD_JOB_ID}'; echo "$TRICKY"; echo "$PLAIN"; sleep 1; exit 7`)
	tk.Env = []string{"TRICKY=" + tricky, "PLAIN=a b"}
	_, err := e.Start(h.ctx(time.Minute), tk)
	must.NoError(t, err)
	nt := h.nomadJob(h.nomadID(7)).TaskGroups[0].Tasks[0]
	must.Eq(t, map[string]string{"PLAIN": "a b"}, nt.Env)

	st := h.waitEnded(e, 7)
	must.Eq(t, 7, st.ExitCode)
	must.Eq(t, "", st.Error)
	must.False(t, st.OOMKilled)
	must.False(t, st.StartedAt.IsZero())
	must.False(t, st.FinishedAt.IsZero())
	want := "${#x} $${y} %{z} ${NOMAD_JOB_ID}\n" + tricky + "\na b\n"
	must.Eq(t, want, h.waitLogs(e, 7, false, equals(want)))
}

// scenarioKill: Kill stops a running job at once with SIGKILL (137), not
// through its kill signal and timeout (the job ignores SIGTERM and has a
// long kill timeout), and is a no-op for stopped or missing jobs; Remove
// purges the job and is a no-op for missing ones.
func scenarioKill(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	ctx := h.ctx(2 * time.Minute)
	tk := task(3, `trap '' TERM; echo ready; sleep 60 & wait`)
	tk.KillTimeout = 25 * time.Second
	_, err := e.Start(ctx, tk)
	must.NoError(t, err)
	h.waitStarted(e, 3)
	h.waitLogs(e, 3, false, equals("ready\n"))

	killed := time.Now()
	must.NoError(t, e.Kill(ctx, 3))
	st := h.waitEnded(e, 3)
	if h.live {
		must.Less(t, 10*time.Second, st.FinishedAt.Sub(killed), must.Sprint("Kill waited for the kill timeout"))
	}
	must.Eq(t, 137, st.ExitCode)
	must.Eq(t, "", st.Error)
	must.False(t, st.Requeue)
	must.True(t, *h.nomadJob(h.nomadID(3)).Stop)

	must.NoError(t, e.Kill(ctx, 3))   // already stopped
	must.NoError(t, e.Kill(ctx, 999)) // no such job
	must.ErrorIs(t, e.Pause(ctx, 3), executor.ErrNotSupported)
	must.ErrorIs(t, e.Unpause(ctx, 3), executor.ErrNotSupported)

	must.NoError(t, e.Remove(ctx, 3))
	_, err = e.Inspect(ctx, 3)
	must.ErrorIs(t, err, executor.ErrNotFound)
	must.NoError(t, e.Remove(ctx, 3))
	must.NoError(t, e.Remove(ctx, 999))
	states, err := e.List(ctx)
	must.NoError(t, err)
	must.SliceEmpty(t, states)
}

// scenarioMissingImage: an image Nomad's docker driver cannot pull fails
// the task before it starts; the state says why (a driver failure, not an
// exit), and Nomad neither restarts nor reschedules it, nor does a second
// Start.
func scenarioMissingImage(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	ctx := h.ctx(3 * time.Minute)
	tk := task(41, "true")
	tk.Image = "godocker/does-not-exist:nope"
	_, err := e.Start(ctx, tk)
	must.NoError(t, err)
	st := h.waitEnded(e, 41)
	must.StrContains(t, st.Error, "the container could not start")
	must.StrContains(t, st.Error, "godocker/does-not-exist:nope")
	must.True(t, st.StartedAt.IsZero())
	must.False(t, st.Requeue)

	again, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.False(t, again.Running)
	must.Eq(t, st.Error, again.Error)
	must.Eq(t, st.Links[executor.LinkNomadAlloc], again.Links[executor.LinkNomadAlloc])
	must.SliceLen(t, 1, h.allocations(h.nomadID(41)))
}

// scenarioUnplaceable: a job no node can hold waits, then after the
// placement timeout is withdrawn and reported Requeue with Nomad's reason;
// the withdrawal survives an executor restart; the next Start submits it
// again.
func scenarioUnplaceable(t *testing.T, h *harness) {
	cfg := nomad.Config{PlacementTimeout: 3 * time.Second}
	e := h.executor(cfg)
	ctx := h.ctx(2 * time.Minute)
	tk := task(5, "echo placed; sleep 1")
	tk.Memory = 1 << 40 // 1 TiB
	st, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.True(t, st.Running)

	st = h.waitFor(e, 5, "requeued", func(st *executor.State) bool { return st.Requeue })
	must.False(t, st.Running)
	must.StrContains(t, st.Error, "Nomad could not place the job within 3s")
	must.StrContains(t, st.Error, "memory exhausted on 1 node(s)")
	job := h.nomadJob(h.nomadID(5))
	must.True(t, *job.Stop)
	must.Eq(t, st.Error, job.Meta[nomad.MetaRequeue])
	must.SliceEmpty(t, h.allocations(h.nomadID(5)))

	// Durable: a new executor (an agent restart) reads the same.
	again, err := h.connectExecutor(cfg).Inspect(ctx, 5)
	must.NoError(t, err)
	must.True(t, again.Requeue)
	must.Eq(t, st.Error, again.Error)

	// Back from pending, the job fits and runs, once.
	tk.Memory = 64 << 20
	st, err = e.Start(ctx, tk)
	must.NoError(t, err)
	must.True(t, st.Running)
	must.False(t, st.Requeue)
	ended := h.waitEnded(e, 5)
	must.Eq(t, 0, ended.ExitCode)
	must.False(t, ended.Requeue)
	must.Eq(t, "placed\n", h.waitLogs(e, 5, false, equals("placed\n")))
	job = h.nomadJob(h.nomadID(5))
	must.False(t, *job.Stop)
	must.MapNotContainsKey(t, job.Meta, nomad.MetaRequeue)
	must.SliceLen(t, 1, h.allocations(h.nomadID(5)))

	// Killed while it waits: stopped, not requeued, and never placed, so a
	// later Start submits it again.
	tk6 := task(6, "echo second; sleep 1")
	tk6.Memory = 1 << 40
	_, err = e.Start(ctx, tk6)
	must.NoError(t, err)
	must.NoError(t, e.Kill(ctx, 6))
	st, err = e.Inspect(ctx, 6)
	must.NoError(t, err)
	must.False(t, st.Running)
	must.False(t, st.Requeue)
	must.Eq(t, "stopped before Nomad placed it", st.Error)
	tk6.Memory = 64 << 20
	st, err = e.Start(ctx, tk6)
	must.NoError(t, err)
	must.True(t, st.Running)
	must.Eq(t, 0, h.waitEnded(e, 6).ExitCode)
	must.SliceLen(t, 1, h.allocations(h.nomadID(6)))
}

// scenarioIdempotentStart: Start for a job Nomad has returns its state and
// never runs it again: not while it runs, not after it ended, not when
// several starts race.
func scenarioIdempotentStart(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	ctx := h.ctx(2 * time.Minute)
	tk := task(1, "echo run; sleep 1")
	first, err := e.Start(ctx, tk)
	must.NoError(t, err)
	again, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.Eq(t, first.ID, again.ID)
	must.True(t, again.Running)

	ended := h.waitEnded(e, 1)
	must.Eq(t, 0, ended.ExitCode)
	after, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.False(t, after.Running)
	must.Eq(t, ended.StartedAt, after.StartedAt)
	must.Eq(t, ended.FinishedAt, after.FinishedAt)
	must.Eq(t, ended.Links[executor.LinkNomadAlloc], after.Links[executor.LinkNomadAlloc])
	must.SliceLen(t, 1, h.allocations(h.nomadID(1)))
	must.Eq(t, "run\n", h.waitLogs(e, 1, false, equals("run\n")))

	// Concurrent starts of a new job: one Nomad job, one allocation.
	tk2 := task(2, "echo run")
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
		must.Eq(t, h.nomadID(2), ids[i])
	}
	h.waitEnded(e, 2)
	must.SliceLen(t, 1, h.allocations(h.nomadID(2)))
	states, err := e.List(ctx)
	must.NoError(t, err)
	must.SliceLen(t, 2, states)
}

// scenarioRestart: a new executor (the agent restarted) finds the jobs of
// its instance with List and Inspect, running or ended, and leaves alone a
// Nomad job of the same name that GoDocker did not register.
func scenarioRestart(t *testing.T, h *harness) {
	e1 := h.executor(nomad.Config{})
	ctx := h.ctx(2 * time.Minute)
	_, err := e1.Start(ctx, task(1, "sleep 3"))
	must.NoError(t, err)
	_, err = e1.Start(ctx, task(2, "exit 5"))
	must.NoError(t, err)
	h.waitEnded(e1, 2)
	h.waitStarted(e1, 1)

	// A job with the name of job 9 but not GoDocker's.
	foreign := h.nomadID(9)
	_, _, err = h.nomad.Jobs().Register(&api.Job{
		ID:   &foreign,
		Type: new("batch"),
		TaskGroups: []*api.TaskGroup{{
			Name: new("g"),
			Tasks: []*api.Task{{
				Name: "t", Driver: "docker",
				Config:    map[string]any{"image": testImage, "entrypoint": []string{"true"}},
				Resources: &api.Resources{MemoryMB: new(32)},
			}},
		}},
	}, (&api.WriteOptions{}).WithContext(ctx))
	must.NoError(t, err)
	t.Cleanup(func() {
		_, _, _ = h.nomad.Jobs().Deregister(foreign, true, nil)
	})

	e2 := h.connectExecutor(nomad.Config{})
	states, err := e2.List(ctx)
	must.NoError(t, err)
	byJob := map[int64]*executor.State{}
	for _, s := range states {
		byJob[s.JobID] = s
	}
	must.MapLen(t, 2, byJob)
	must.True(t, byJob[1].Running)
	must.False(t, byJob[1].StartedAt.IsZero())
	must.False(t, byJob[2].Running)
	must.Eq(t, 5, byJob[2].ExitCode)

	_, err = e2.Inspect(ctx, 9)
	must.Error(t, err)
	must.False(t, errors.Is(err, executor.ErrNotFound))
	_, err = e2.Start(ctx, task(9, "true"))
	must.Error(t, err)
	must.Eq(t, "t", h.nomadJob(foreign).TaskGroups[0].Tasks[0].Name)

	st := h.waitEnded(e2, 1)
	must.Eq(t, 0, st.ExitCode)
	must.Eq(t, byJob[1].StartedAt, st.StartedAt)
}

// scenarioEvents: a subscriber hears about the job stopping, and the
// channel closes with its context.
func scenarioEvents(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	ctx := h.ctx(2 * time.Minute)
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
	case <-time.After(h.within(90 * time.Second)):
		t.Fatal("no event for job 11")
	}
	st, err := e.Inspect(ctx, 11)
	must.NoError(t, err)
	must.False(t, st.Running)
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

// scenarioCapacity: the ready nodes of the configured pool and
// datacenters, in cores and bytes; cores become MHz at the nodes' speed;
// a job that must avoid the only node cannot start; the executor's name
// and capabilities.
func scenarioCapacity(t *testing.T, h *harness) {
	ctx := h.ctx(time.Minute)
	q := (&api.QueryOptions{Params: map[string]string{"resources": "true"}}).WithContext(ctx)
	nodes, _, err := h.nomad.Nodes().List(q)
	must.NoError(t, err)
	must.SliceLen(t, 1, nodes)
	n := nodes[0]
	must.NotNil(t, n.NodeResources)
	cpu := n.NodeResources.Cpu
	want := executor.Capacity{CPU: float64(cpu.TotalCpuCores), Memory: n.NodeResources.Memory.MemoryMB << 20}
	must.Positive(t, want.CPU)
	must.Positive(t, want.Memory)

	e := h.executor(nomad.Config{Datacenters: []string{"dc*"}})
	c, err := e.Capacity(ctx)
	must.NoError(t, err)
	must.Eq(t, want, c)
	must.Eq(t, "nomad", e.Name())
	must.True(t, executor.Has(e.Capabilities(), executor.CapKill))
	must.True(t, executor.Has(e.Capabilities(), executor.CapLogs))
	must.False(t, executor.Has(e.Capabilities(), executor.CapPause))

	for _, cfg := range []nomad.Config{{Datacenters: []string{"elsewhere"}}, {NodePool: "gpu"}} {
		c, err := h.connectExecutor(cfg).Capacity(ctx)
		must.NoError(t, err)
		must.Eq(t, executor.Capacity{}, c, must.Sprintf("config %+v", cfg))
	}

	// Cores to MHz at the (only) node's per-core speed, rounded up.
	tk := task(1, "true")
	tk.CPU = 1.5
	_, err = e.Start(ctx, tk)
	must.NoError(t, err)
	per := float64(cpu.CpuShares) / float64(cpu.TotalCpuCores)
	perCore := math.Floor(per)
	must.Eq(t, int(math.Ceil(1.5*perCore)), *h.nomadJob(h.nomadID(1)).TaskGroups[0].Tasks[0].Resources.CPU)
	h.waitEnded(e, 1)

	avoid := task(2, "true")
	avoid.AvoidNodes = []string{n.Name}
	_, err = e.Start(ctx, avoid)
	must.ErrorIs(t, err, executor.ErrPermanent)
	must.StrContains(t, err.Error(), "no other ready node")
	_, err = e.Inspect(ctx, 2)
	must.ErrorIs(t, err, executor.ErrNotFound)
}

// scenarioOutOfMemory: the engine enforces the task's memory limit, and
// the state says the job was killed for memory.
func scenarioOutOfMemory(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	tk := task(31, `x=$(head -c 64000000 /dev/zero | tr '\0' a); echo ${#x}`)
	tk.Memory = 16 << 20
	_, err := e.Start(h.ctx(time.Minute), tk)
	must.NoError(t, err)
	st := h.waitEnded(e, 31)
	// The kernel may kill a child rather than bash, which the engine then
	// does not always flag; the exit code says SIGKILL either way.
	must.True(t, st.OOMKilled || st.ExitCode == 137, must.Sprintf("state %+v", st))
	must.Eq(t, "", st.Error)
}

// scenarioOtherStore: two stores (a fresh store on the cluster of an older
// one, or two sites given the same instance) share an instance. Each sees,
// lists and acts on its own job 1 only; the other's is left alone, and
// reported once.
func scenarioOtherStore(t *testing.T, h *harness) {
	var logs testlog.Buffer
	e1 := h.executor(nomad.Config{})
	e2 := h.executor(nomad.Config{StoreID: h.stores[1], Logger: hclog.New(&hclog.LoggerOptions{Output: &logs})})
	ctx := h.ctx(2 * time.Minute)

	a, err := e1.Start(ctx, task(1, "sleep 30"))
	must.NoError(t, err)
	must.Eq(t, h.nomadIDOf(h.stores[0], 1), a.ID)
	_, err = e2.Inspect(ctx, 1)
	must.ErrorIs(t, err, executor.ErrNotFound, must.Sprint("store 2 has no job 1 yet"))
	b, err := e2.Start(ctx, task(1, "exit 3"))
	must.NoError(t, err)
	must.Eq(t, h.nomadIDOf(h.stores[1], 1), b.ID, must.Sprint("store 2's job 1 gets a Nomad job of its own"))
	ended := h.waitEnded(e2, 1)
	must.Eq(t, 3, ended.ExitCode, must.Sprint("its own exit code, not the other's"))
	must.Eq(t, h.stores[1], h.nomadJob(b.ID).Meta[nomad.MetaStore])

	for i := range 2 {
		l2, err := e2.List(ctx)
		must.NoError(t, err)
		must.SliceLen(t, 1, l2)
		must.Eq(t, b.ID, l2[0].ID, must.Sprintf("list %d", i))
	}
	must.Eq(t, 1, strings.Count(logs.String(), "Nomad job of another job store left alone"), must.Sprint(logs.String()))
	must.StrContains(t, logs.String(), h.stores[0])

	must.NoError(t, e2.Stop(ctx, 1))
	must.NoError(t, e2.Kill(ctx, 1))
	must.NoError(t, e2.Remove(ctx, 1))
	_, err = e2.Inspect(ctx, 1)
	must.ErrorIs(t, err, executor.ErrNotFound)
	st, err := e1.Inspect(ctx, 1)
	must.NoError(t, err)
	must.True(t, st.Running, must.Sprint("store 1's job 1 runs on"))
	must.Eq(t, aliceUID, st.Owner)
	must.False(t, st.Legacy)
	l1, err := e1.List(ctx)
	must.NoError(t, err)
	must.SliceLen(t, 1, l1)
	must.Eq(t, a.ID, l1[0].ID)

	must.NoError(t, e1.Kill(ctx, 1))
	must.Eq(t, 137, h.waitEnded(e1, 1).ExitCode)
}

// registerLegacy registers a Nomad job as the release before store
// identities did for job id of uid: named <instance>-<id>, with no store
// or owner in its meta, its task running as uid.
func (h *harness) registerLegacy(id int64, uid int, script string) string {
	h.t.Helper()
	nomadID := h.instance + "-" + strconv.FormatInt(id, 10)
	user := strconv.Itoa(uid) + ":" + strconv.Itoa(uid)
	_, _, err := h.nomad.Jobs().Register(&api.Job{
		ID:   &nomadID,
		Name: &nomadID,
		Type: new("batch"),
		Meta: map[string]string{
			nomad.MetaID:       strconv.FormatInt(id, 10),
			nomad.MetaInstance: h.instance,
			nomad.MetaName:     "test-" + strconv.FormatInt(id, 10),
		},
		TaskGroups: []*api.TaskGroup{{
			Name:             new("job"),
			RestartPolicy:    &api.RestartPolicy{Attempts: new(0), Mode: new("fail")},
			ReschedulePolicy: &api.ReschedulePolicy{Attempts: new(0), Unlimited: new(false)},
			Tasks: []*api.Task{{
				Name: "job", Driver: "docker", User: user,
				Config: map[string]any{
					"image": testImage, "entrypoint": []string{"bash", "-c", script}, "init": true,
					"labels": []map[string]string{{nomad.LabelInstance: h.instance, nomad.LabelJobID: strconv.FormatInt(id, 10)}},
				},
				Resources:  &api.Resources{MemoryMB: new(32)},
				KillSignal: "SIGKILL",
			}},
		}},
	}, (&api.WriteOptions{}).WithContext(h.ctx(10*time.Second)))
	must.NoError(h.t, err)
	h.t.Cleanup(func() {
		_, _, _ = h.nomad.Jobs().Deregister(nomadID, true, nil)
	})
	return nomadID
}

// scenarioLegacy: the Nomad job of a job registered by the release before
// store identities (named <instance>-<id>, no store in its meta) is
// recognised by the store migrated with that job (id <= LegacyMaxJob),
// with the uid its task runs as for owner, never by a new store; a legacy
// job of another owner is left alone and the job gets a Nomad job of its
// own.
func scenarioLegacy(t *testing.T, h *harness) {
	var logs testlog.Buffer
	ctx := h.ctx(2 * time.Minute)
	mine := h.registerLegacy(4, aliceUID, "sleep 30")
	theirs := h.registerLegacy(5, 23002, "sleep 30")
	root := h.registerLegacy(6, 0, "true")
	migrated := h.executor(nomad.Config{LegacyMaxJob: 10})
	fresh := h.executor(nomad.Config{StoreID: h.stores[1], Logger: hclog.New(&hclog.LoggerOptions{Output: &logs})})

	st := h.waitStarted(migrated, 4)
	must.True(t, st.Legacy)
	must.Eq(t, mine, st.Name)
	must.Eq(t, aliceUID, st.Owner)
	must.True(t, st.OwnedBy(aliceUID, aliceUID))
	must.False(t, st.OwnedBy(23002, 23002))
	again, err := migrated.Start(ctx, task(4, "sleep 30"))
	must.NoError(t, err)
	must.Eq(t, mine, again.ID, must.Sprint("adopted, not registered again"))
	_, err = fresh.Inspect(ctx, 4)
	must.ErrorIs(t, err, executor.ErrNotFound, must.Sprint("a new store has no legacy job"))

	rootSt, err := migrated.Inspect(ctx, 6)
	must.NoError(t, err)
	must.Eq(t, root, rootSt.Name)
	must.Eq(t, 0, rootSt.Owner, must.Sprint("a root job of the old naming: the uid it runs as"))
	must.True(t, rootSt.OwnedBy(aliceUID, 0))

	// Another owner's job 5 of the old naming: not this job 5's.
	other, err := migrated.Inspect(ctx, 5)
	must.NoError(t, err)
	must.True(t, other.Legacy)
	must.Eq(t, 23002, other.Owner)
	own, err := migrated.Start(ctx, task(5, "exit 4"))
	must.NoError(t, err)
	must.Eq(t, h.nomadID(5), own.ID)
	must.False(t, own.Legacy)
	ended := h.waitEnded(migrated, 5)
	must.Eq(t, h.nomadID(5), ended.ID)
	must.Eq(t, 4, ended.ExitCode)
	must.False(t, ended.Legacy)
	must.Eq(t, aliceUID, ended.Owner)

	states, err := migrated.List(ctx)
	must.NoError(t, err)
	names := map[string]*executor.State{}
	for _, s := range states {
		names[s.Name] = s
	}
	must.MapLen(t, 4, names, must.Sprintf("states %v", names))
	must.True(t, names[mine].Legacy)
	must.Eq(t, int64(4), names[mine].JobID)
	must.Eq(t, aliceUID, names[mine].Owner)
	must.Eq(t, 23002, names[theirs].Owner)
	must.Eq(t, 0, names[root].Owner)
	must.False(t, names[h.nomadID(5)].Legacy)

	freshStates, err := fresh.List(ctx)
	must.NoError(t, err)
	must.SliceEmpty(t, freshStates)
	for _, id := range []string{mine, theirs, root, h.nomadID(5)} {
		must.StrContains(t, logs.String(), "nomad_job="+id)
	}

	// The legacy job of the store is the store's to kill.
	must.NoError(t, migrated.Kill(ctx, 4))
	must.Eq(t, 137, h.waitEnded(migrated, 4).ExitCode)
	other, err = migrated.Inspect(ctx, 5)
	must.NoError(t, err)
	must.Eq(t, h.nomadID(5), other.ID, must.Sprint("the store's own job 5 first"))
	must.True(t, h.nomadJob(theirs).Stop == nil || !*h.nomadJob(theirs).Stop, must.Sprint("the other owner's job is left alone"))
}

// scenarioGracefulStop: Stop sends SIGTERM, the task's kill signal, and
// Nomad escalates to SIGKILL after the job's kill timeout. A job that
// traps SIGTERM and exits within it ends with its own code (0); one that
// ignores it ends with 137 once the timeout has passed; Kill during the
// timeout kills at once. (In these tests the task's entrypoint is the
// test's bash script, so it traps the signal itself; the agent's real
// entrypoint passes SIGTERM on to the job's processes.)
func scenarioGracefulStop(t *testing.T, h *harness) {
	e := h.executor(nomad.Config{})
	ctx := h.ctx(2 * time.Minute)
	graceful := task(21, `trap 'echo got TERM; exit 0' TERM; echo ready; sleep 600 & wait`)
	graceful.KillTimeout = 20 * time.Second
	stubborn := task(22, `trap '' TERM; echo ready; sleep 600 & wait`)
	stubborn.KillTimeout = 3 * time.Second
	escalated := task(23, `trap '' TERM; echo ready; sleep 600 & wait`)
	escalated.KillTimeout = 25 * time.Second
	for _, tk := range []*executor.Task{graceful, stubborn, escalated} {
		_, err := e.Start(ctx, tk)
		must.NoError(t, err)
		nt := h.nomadJob(h.nomadID(tk.JobID)).TaskGroups[0].Tasks[0]
		must.Eq(t, "SIGTERM", nt.KillSignal)
		must.Eq(t, tk.KillTimeout, *nt.KillTimeout)
	}
	for _, id := range []int64{21, 22, 23} {
		h.waitStarted(e, id)
		// Stopped only once the trap is set.
		must.Eq(t, "ready\n", h.waitLogs(e, id, false, equals("ready\n")))
	}

	stopped := time.Now()
	must.NoError(t, e.Stop(ctx, 21))
	must.NoError(t, e.Stop(ctx, 22))
	must.NoError(t, e.Stop(ctx, 23))
	must.NoError(t, e.Stop(ctx, 23)) // already stopping
	must.NoError(t, e.Kill(ctx, 23)) // SIGKILL now, not in 25s

	st := h.waitEnded(e, 21)
	must.Eq(t, 0, st.ExitCode, must.Sprintf("state %+v", st))
	must.Eq(t, "", st.Error)
	must.Eq(t, "ready\ngot TERM\n", h.waitLogs(e, 21, false, equals("ready\ngot TERM\n")))
	if h.live {
		must.Less(t, 10*time.Second, st.FinishedAt.Sub(stopped), must.Sprint("the graceful job waited for its kill timeout"))
	}

	st = h.waitEnded(e, 23)
	must.Eq(t, 137, st.ExitCode, must.Sprintf("state %+v", st))
	if h.live {
		must.Less(t, 10*time.Second, st.FinishedAt.Sub(stopped), must.Sprint("Kill waited for the kill timeout"))
	}

	st = h.waitEnded(e, 22)
	must.Eq(t, 137, st.ExitCode, must.Sprintf("state %+v", st))
	must.Eq(t, "", st.Error)
	if h.live {
		must.GreaterEq(t, stubborn.KillTimeout, st.FinishedAt.Sub(stopped), must.Sprint("SIGKILL before the kill timeout"))
	}

	must.NoError(t, e.Stop(ctx, 22))  // ended
	must.NoError(t, e.Stop(ctx, 999)) // no such job
}

// TestLiveStartRace: two agents (two executors, so no shared lock) starting
// the same job at once register one Nomad job with one allocation: the
// registration is index-checked. Live only: which request wins varies, so
// it cannot be replayed in order.
func TestLiveStartRace(t *testing.T) {
	addr := liveNomad(t)
	if os.Getenv("GOD_NOMAD_RECORD") == "1" {
		t.Skip("skipping: not a recorded scenario")
	}
	t.Parallel()
	h := &harness{t: t, addr: addr, instance: fmt.Sprintf("godtest-%d-race", os.Getpid()), stores: []string{store.NewID()}, hostDir: t.TempDir(), live: true}
	h.connect()
	executors := []*nomad.Executor{h.executor(nomad.Config{}), h.connectExecutor(nomad.Config{}), h.connectExecutor(nomad.Config{})}
	ctx := h.ctx(time.Minute)
	tk := task(1, "echo run; sleep 1")
	errs := make([]error, len(executors))
	var wg sync.WaitGroup
	for i, e := range executors {
		wg.Go(func() { _, errs[i] = e.Start(ctx, tk) })
	}
	wg.Wait()
	for _, err := range errs {
		must.NoError(t, err)
	}
	st := h.waitEnded(executors[0], 1)
	must.Eq(t, 0, st.ExitCode)
	must.SliceLen(t, 1, h.allocations(h.nomadID(1)))
	must.Eq(t, 0, *h.nomadJob(h.nomadID(1)).Version, must.Sprint("registered more than once"))
}

// TestEventsStreamBreaks: when Nomad's event stream ends (a server going
// away), the executor closes the channel, so the agent reconciles and
// subscribes again. Replayed from the events recording, with the stream
// cut after its recorded lines.
func TestEventsStreamBreaks(t *testing.T) {
	t.Parallel()
	r := replayPart(t, "events", func(x *exchange) bool {
		return x.Path == "/v1/status/leader" || x.Path == "/v1/event/stream" ||
			x.Method == "GET" && x.Path == "/v1/jobs" && strings.Contains(x.Query, "per_page") // the index

	})
	r.mu.Lock()
	r.breakStreams = true
	r.mu.Unlock()
	h := &harness{t: t, addr: r.srv.URL, instance: replayInstance, stores: replayStores, hostDir: replayHostDir, clock: r.now}
	e := h.connectExecutor(nomad.Config{})
	events, err := e.Events(h.ctx(10 * time.Second)) // not cancelled before the end
	must.NoError(t, err)
	var got []int64
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				must.Eq(t, []int64{11}, got[:1])
				return
			}
			got = append(got, ev.JobID)
		case <-timeout:
			t.Fatalf("events channel still open 10s after the stream ended (events %v)", got)
		}
	}
}
