package nomad

// Unit tests of the pure parts: how a task becomes a Nomad job and how
// Nomad's answers become states. The executor against Nomad itself is
// tested in nomad_test.go (live and replayed).

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/nomad/api"
	"github.com/shoenig/test/must"
	"pgregory.net/rapid"

	"github.com/godocker/god/plugins/executor"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Instance: "has space"}, "nomad.instance"},
		{Config{Instance: "-dash"}, "nomad.instance"},
		{Config{PlacementTimeout: -time.Second}, "nomad.placement_timeout"},
		{Config{CPUMHzPerCore: -1}, "nomad.cpu_mhz_per_core"},
		{Config{Priority: 101}, "nomad.priority"},
		{Config{JobURL: "https://god.example.org/jobs"}, "nomad.job_url"},
		{Config{Datacenters: []string{"dc1", ""}}, "nomad.datacenters"},
		{Config{LegacyMaxJob: -1}, "legacy_max_job"},
	} {
		tc.cfg.StoreID = testStoreID
		_, err := New(ctx, tc.cfg)
		must.Error(t, err)
		must.StrContains(t, err.Error(), tc.field)
	}
}

// The store's identity is required: without it the executor could not
// tell its jobs from another store's.
func TestNewRequiresStoreID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "0123456789abcde", "0123456789ABCDEF", "0123456789abcdefa", "g123456789abcdef"} {
		_, err := New(context.Background(), Config{StoreID: id})
		must.Error(t, err)
		must.StrContains(t, err.Error(), "the job store's id is required")
	}
}

func TestNewUnreachable(t *testing.T) {
	t.Parallel()
	_, err := New(context.Background(), Config{Address: "http://127.0.0.1:1", StoreID: testStoreID})
	must.Error(t, err)
	must.StrContains(t, err.Error(), "cannot reach Nomad at http://127.0.0.1:1")
}

const testStoreID = "0123456789abcdef"

func testExecutor() *Executor {
	return &Executor{
		cfg: Config{Instance: "god", StoreID: testStoreID, LegacyMaxJob: 10, Logger: hclog.NewNullLogger(),
			PidsLimit: 4096, KillTimeout: 5 * time.Second, CPUMHzPerCore: 2000, UIURL: "http://n:4646"},
		now: time.Now,
	}
}

func TestNomadJobLimits(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	tk := &executor.Task{JobID: 3, Image: "img:1", Entrypoint: []string{"bash"}, UID: 5, GID: 6, CPU: 0.25, Memory: 100<<20 + 1}
	job, err := e.nomadJob(context.Background(), tk)
	must.NoError(t, err)
	res := job.TaskGroups[0].Tasks[0].Resources
	must.Eq(t, 500, *res.CPU)      // 0.25 × 2000 MHz
	must.Eq(t, 101, *res.MemoryMB) // rounded up to whole MiB
	must.Nil(t, job.Datacenters)   // Nomad's default: all
	must.Nil(t, job.NodePool)      // Nomad's default pool
	must.Eq(t, "god-01234567-3", *job.ID)

	tk.Memory = 8 << 20
	_, err = e.nomadJob(context.Background(), tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
	must.StrContains(t, err.Error(), "resources.memory")

	tk.Memory, tk.CPU = 0, 0
	job, err = e.nomadJob(context.Background(), tk)
	must.NoError(t, err)
	must.Nil(t, job.TaskGroups[0].Tasks[0].Resources.CPU)
	must.MapNotContainsKey(t, job.TaskGroups[0].Tasks[0].Config, "cpu_hard_limit")

	tk.Image = ""
	_, err = e.nomadJob(context.Background(), tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
}

// A job's GPUs are a device request for NVIDIA GPUs; other jobs ask none.
func TestNomadJobGPUs(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	tk := &executor.Task{JobID: 4, Image: "img:1", Entrypoint: []string{"bash"}, CPU: 1, Memory: 64 << 20}
	job, err := e.nomadJob(context.Background(), tk)
	must.NoError(t, err)
	must.SliceEmpty(t, job.TaskGroups[0].Tasks[0].Resources.Devices)

	tk.GPUs = 2
	job, err = e.nomadJob(context.Background(), tk)
	must.NoError(t, err)
	must.Eq(t, []*api.RequestedDevice{{Name: "nvidia/gpu", Count: new(uint64(2))}}, job.TaskGroups[0].Tasks[0].Resources.Devices)
}

// Capacity counts the healthy NVIDIA GPUs of a node's devices, nothing else.
func TestGPUCount(t *testing.T) {
	t.Parallel()
	must.Eq(t, 0, gpus(nil))
	must.Eq(t, 3, gpus([]*api.NodeDeviceResource{
		{Vendor: "nvidia", Type: "gpu", Name: "A100", Instances: []*api.NodeDevice{{ID: "a", Healthy: true}, {ID: "b", Healthy: true}, {ID: "c", Healthy: false}}},
		{Vendor: "nvidia", Type: "gpu", Name: "T4", Instances: []*api.NodeDevice{{ID: "d", Healthy: true}}},
		{Vendor: "amd", Type: "gpu", Instances: []*api.NodeDevice{{ID: "e", Healthy: true}}},
		{Vendor: "intel", Type: "fpga", Instances: []*api.NodeDevice{{ID: "f", Healthy: true}}},
	}))
}

func TestNomadJobAvoidNodes(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	e.nodes = &nodeInfo{at: time.Now(), ready: []string{"a", "b"}}
	tk := &executor.Task{JobID: 1, Image: "i", Entrypoint: []string{"x"}, AvoidNodes: []string{"a"}}
	job, err := e.nomadJob(context.Background(), tk)
	must.NoError(t, err)
	must.Eq(t, []*api.Constraint{{LTarget: "${node.unique.name}", Operand: "!=", RTarget: "a"}}, job.TaskGroups[0].Constraints)

	tk.AvoidNodes = []string{"b", "a"}
	_, err = e.nomadJob(context.Background(), tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
}

func TestEnvMap(t *testing.T) {
	t.Parallel()
	must.Eq(t, map[string]string{"A": "1=2", "B": "", "C": "last"}, envMap([]string{"A=1=2", "B", "C=first", "C=last", "=x"}))
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	must.True(t, globMatch("dc1", "dc1"))
	must.False(t, globMatch("dc1", "dc12"))
	must.True(t, globMatch("*", ""))
	must.True(t, globMatch("dc*", "dc1"))
	must.True(t, globMatch("*-east-*", "us-east-1"))
	must.False(t, globMatch("a*a", "a"))
	// Against a regular expression built from the pattern.
	rapid.Check(t, func(t *rapid.T) {
		pattern := rapid.StringMatching(`[ab*]{0,6}`).Draw(t, "pattern")
		s := rapid.StringMatching(`[ab]{0,8}`).Draw(t, "s")
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$")
		if got, want := globMatch(pattern, s), re.MatchString(s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	})
}

func TestPlacementFailure(t *testing.T) {
	t.Parallel()
	ev := &api.Evaluation{FailedTGAllocs: map[string]*api.AllocationMetric{groupName: {
		NodesEvaluated:     3,
		NodesAvailable:     map[string]int{"dc1": 3, "dc2": 0},
		ConstraintFiltered: map[string]int{"${node.unique.name} != a": 1},
		NodesExhausted:     2,
		DimensionExhausted: map[string]int{"memory": 2},
	}}}
	must.Eq(t, `no node is available in datacenter "dc2"; constraint "${node.unique.name} != a": 1 node(s) excluded; memory exhausted on 2 node(s)`, placementFailure(ev))
	none := &api.Evaluation{FailedTGAllocs: map[string]*api.AllocationMetric{groupName: {}}}
	must.Eq(t, "no node was eligible", placementFailure(none))
}

func TestLatestFailedPlacement(t *testing.T) {
	t.Parallel()
	failed := &api.Evaluation{Status: "complete", CreateIndex: 5, FailedTGAllocs: map[string]*api.AllocationMetric{groupName: {}}}
	blocked := &api.Evaluation{Status: "blocked", CreateIndex: 6}
	must.Eq(t, failed, latestFailedPlacement([]*api.Evaluation{blocked, failed}))
	placed := &api.Evaluation{Status: "complete", CreateIndex: 7}
	must.Nil(t, latestFailedPlacement([]*api.Evaluation{failed, blocked, placed}))
	must.Nil(t, latestFailedPlacement(nil))
}

func TestTaskFailure(t *testing.T) {
	t.Parallel()
	a := &api.AllocationListStub{NodeName: "n1", ClientStatus: "failed"}
	ts := &api.TaskState{Events: []*api.TaskEvent{
		{Type: api.TaskReceived},
		{Type: api.TaskDriverFailure, DriverError: "Failed to pull `x:1`: not found"},
		{Type: api.TaskNotRestarting},
	}}
	must.Eq(t, "the container could not start on n1: Failed to pull `x:1`: not found", taskFailure(a, ts))
	exited := &api.TaskState{Events: []*api.TaskEvent{{Type: api.TaskStarted}, {Type: api.TaskTerminated, ExitCode: 3}, {Type: api.TaskNotRestarting}}}
	must.Eq(t, "", taskFailure(a, exited))
	evicted := &api.AllocationListStub{NodeName: "n1", ClientStatus: "complete", DesiredStatus: "evict", DesiredDescription: "preempted"}
	must.Eq(t, "Nomad evicted the job from node n1: preempted", taskFailure(evicted, nil))
}

func TestStopEvent(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	alloc := func(job, id, status string) *api.Event {
		return &api.Event{Topic: api.TopicAllocation, Payload: map[string]any{"Allocation": map[string]any{"JobID": job, "ID": id, "ClientStatus": status}}}
	}
	id, key, ok := e.stopEvent(alloc("god-01234567-12", "a1", "complete"))
	must.True(t, ok)
	must.Eq(t, int64(12), id)
	must.Eq(t, "alloc/a1", key)
	_, _, ok = e.stopEvent(alloc("god-01234567-12", "a1", "running"))
	must.False(t, ok)
	_, _, ok = e.stopEvent(alloc("godot-01234567-12", "a1", "failed")) // another instance
	must.False(t, ok)
	_, _, ok = e.stopEvent(alloc("god-01234567-012", "a1", "failed")) // not a job id we make
	must.False(t, ok)
	_, _, ok = e.stopEvent(alloc("god-fedcba98-12", "a1", "failed")) // another store's
	must.False(t, ok)
	id, _, ok = e.stopEvent(alloc("god-7", "a2", "failed")) // a legacy job of the store
	must.True(t, ok)
	must.Eq(t, int64(7), id)
	_, _, ok = e.stopEvent(alloc("god-12", "a3", "failed")) // beyond the store's legacy jobs
	must.False(t, ok)
	job := &api.Event{Topic: api.TopicJob, Payload: map[string]any{"Job": map[string]any{"ID": "god-01234567-4", "Status": "dead", "Version": float64(2)}}}
	id, key, ok = e.stopEvent(job)
	must.True(t, ok)
	must.Eq(t, int64(4), id)
	must.Eq(t, "job/god-01234567-4/2", key)
}

// TestOurs: which Nomad jobs are this store's, by id and meta.
func TestOurs(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	meta := func(id, store string) map[string]string {
		m := map[string]string{MetaInstance: "god", MetaID: id}
		if store != "" {
			m[MetaStore] = store
		}
		return m
	}
	for _, tc := range []struct {
		nomadID string
		meta    map[string]string
		id      int64
		legacy  bool
		ok      bool
		foreign bool
	}{
		{"god-01234567-3", meta("3", testStoreID), 3, false, true, false},
		{"god-01234567-3", meta("4", testStoreID), 4, false, false, true},                        // renamed: not what we register
		{"god-fedcba98-3", meta("3", "fedcba9876543210"), 3, false, false, true},                 // another store's
		{"god-01234567-3", meta("3", "0123456700000000"), 3, false, false, true},                 // same 8 digits, another store
		{"god-3", meta("3", ""), 3, true, true, false},                                           // legacy, <= LegacyMaxJob
		{"god-11", meta("11", ""), 11, true, false, true},                                        // legacy, beyond: another store's
		{"god-3", meta("3", testStoreID), 3, false, false, true},                                 // old name, new meta
		{"god-3", map[string]string{MetaInstance: "godot", MetaID: "3"}, 0, false, false, false}, // another instance
		{"god-3", map[string]string{}, 0, false, false, false},                                   // not GoDocker's
		{"god-01234567-x", map[string]string{MetaInstance: "god", MetaID: "x"}, 0, false, false, false},
	} {
		id, legacy, ok := e.ours(tc.nomadID, tc.meta)
		must.Eq(t, tc.ok, ok, must.Sprintf("%s %v", tc.nomadID, tc.meta))
		if ok {
			must.Eq(t, tc.id, id)
			must.Eq(t, tc.legacy, legacy)
		}
		must.Eq(t, tc.foreign, !ok && e.foreignStore(tc.meta), must.Sprintf("%s %v", tc.nomadID, tc.meta))
	}
	must.Eq(t, "^god-(01234567-)?[0-9]+$", e.allocJobPattern())
	e.cfg.LegacyMaxJob = 0
	must.Eq(t, "^god-01234567-[0-9]+$", e.allocJobPattern())
	_, _, ok := e.ours("god-3", meta("3", ""))
	must.False(t, ok, must.Sprint("a fresh store has no legacy job"))
}

// The owner: the meta's for the store's naming; for a legacy job, the
// uid its task runs as.
func TestOwners(t *testing.T) {
	t.Parallel()
	must.Eq(t, 23001, metaOwner(map[string]string{MetaOwner: "23001"}))
	must.Eq(t, noOwner, metaOwner(map[string]string{}))
	must.Eq(t, noOwner, metaOwner(map[string]string{MetaOwner: "-1"}))
	legacy := func(user string) *api.Job {
		return &api.Job{TaskGroups: []*api.TaskGroup{{Tasks: []*api.Task{{Name: taskName, User: user}}}}}
	}
	must.Eq(t, 23001, legacyOwner(legacy("23001:23001")))
	must.Eq(t, 0, legacyOwner(legacy("0:0")))
	must.Eq(t, noOwner, legacyOwner(legacy("")))
	must.Eq(t, noOwner, legacyOwner(&api.Job{}))
	v := &view{legacy: true, owner: 0}
	must.True(t, v.ownedBy(23001, 0), must.Sprint("a root job of the old naming runs as 0"))
	must.False(t, v.ownedBy(23001, 23001))
	v = &view{owner: 23001}
	must.True(t, v.ownedBy(23001, 0), must.Sprint("the store's naming: the submitter, also for a root job"))
	must.False(t, v.ownedBy(23002, 23002))
	must.False(t, (&view{owner: noOwner}).ownedBy(0, 0))
}

// The job carries the store and owner, and a graceful kill signal with the
// job's kill timeout (the configured one when it has none).
func TestNomadJobIdentity(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	tk := &executor.Task{JobID: 9, Name: "n", Owner: 23001, UID: 0, GID: 0, Image: "img:1", Entrypoint: []string{"bash"}, KillTimeout: 42 * time.Second}
	job, err := e.nomadJob(context.Background(), tk)
	must.NoError(t, err)
	must.Eq(t, "god-01234567-9", *job.ID)
	must.Eq(t, testStoreID, job.Meta[MetaStore])
	must.Eq(t, "23001", job.Meta[MetaOwner])
	task := job.TaskGroups[0].Tasks[0]
	must.Eq(t, "SIGTERM", task.KillSignal)
	must.Eq(t, 42*time.Second, *task.KillTimeout)
	labels := task.Config["labels"].([]map[string]string)[0]
	must.Eq(t, testStoreID, labels[LabelStoreID])
	must.Eq(t, "23001", labels[LabelOwner])
	must.Eq(t, "9", labels[LabelJobID])

	tk.KillTimeout = 0
	job, err = e.nomadJob(context.Background(), tk)
	must.NoError(t, err)
	must.Eq(t, 5*time.Second, *job.TaskGroups[0].Tasks[0].KillTimeout)
}

// Another store's jobs are reported once each.
func TestReportForeign(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	e := testExecutor()
	e.cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: &buf})
	meta := map[string]string{MetaInstance: "god", MetaID: "1", MetaStore: "fedcba9876543210"}
	e.reportForeign("god-fedcba98-1", meta)
	e.reportForeign("god-fedcba98-1", meta)
	e.reportForeign("god-fedcba98-2", meta)
	must.Eq(t, 2, strings.Count(buf.String(), "Nomad job of another job store left alone"))
	must.StrContains(t, buf.String(), "fedcba9876543210")
}

func TestLinks(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	e.cfg.Namespace = "science"
	must.Eq(t, map[string]string{
		executor.LinkNomadJob:   "god-1",
		executor.LinkNomadAlloc: "abc",
		executor.LinkNomadUI:    "http://n:4646/ui/jobs/god-1@science",
	}, e.links("god-1", "abc"))
}

// TestLiteralEnv: values with ${ reach the process byte for byte through
// the bash prelude (run by the real bash here); others stay in Nomad's env.
func TestLiteralEnv(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipping: no bash on this machine")
	}
	env, argv := literalEnv(map[string]string{"A": "plain", "B-C": "${x}"}, []string{"true"})
	must.Eq(t, map[string]string{"A": "plain", "B-C": "${x}"}, env) // B-C is no shell name
	must.Eq(t, []string{"true"}, argv)

	rapid.Check(t, func(t *rapid.T) {
		value := "${" + rapid.StringMatching(`[^\x00]{0,20}`).Draw(t, "value")
		env, argv := literalEnv(map[string]string{"V": value, "P": "p"}, []string{bash, "-c", `printf %s "$V"`})
		must.Eq(t, map[string]string{"P": "p"}, env)
		must.StrNotContains(t, strings.Join(argv[:3], " "), "${")
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = []string{}
		out, err := cmd.Output()
		must.NoError(t, err)
		must.Eq(t, value, string(out))
	})
}

// TestStateOf: Nomad's allocation states as executor states.
func TestStateOf(t *testing.T) {
	t.Parallel()
	e := testExecutor()
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	finished := started.Add(time.Minute)
	view := func(a *api.AllocationListStub) *view {
		return &view{jobID: 4, nomadID: "god-4", owner: 23001, allocs: []*api.AllocationListStub{a}}
	}
	terminated := func(code int, details map[string]string) *api.TaskState {
		return &api.TaskState{StartedAt: started, FinishedAt: finished, Events: []*api.TaskEvent{
			{Type: api.TaskStarted},
			{Type: api.TaskTerminated, ExitCode: code, Details: details},
			{Type: api.TaskNotRestarting},
		}}
	}
	ctx := context.Background()

	st, err := e.stateOf(ctx, view(&api.AllocationListStub{ID: "a1", NodeName: "n1", ClientStatus: "failed",
		TaskStates: map[string]*api.TaskState{taskName: terminated(137, map[string]string{"oom_killed": "true"})}}))
	must.NoError(t, err)
	must.Eq(t, &executor.State{JobID: 4, ID: "god-4", Name: "god-4", Node: "n1", Owner: 23001, ExitCode: 137, OOMKilled: true,
		StartedAt: started, FinishedAt: finished, Links: e.links("god-4", "a1")}, st)

	st, err = e.stateOf(ctx, view(&api.AllocationListStub{ID: "a1", NodeName: "n1", ClientStatus: "running",
		TaskStates: map[string]*api.TaskState{taskName: {StartedAt: started}}}))
	must.NoError(t, err)
	must.True(t, st.Running)
	must.Eq(t, started, st.StartedAt)

	// Disconnected: may still run.
	st, err = e.stateOf(ctx, view(&api.AllocationListStub{ID: "a1", NodeName: "n1", ClientStatus: "unknown"}))
	must.NoError(t, err)
	must.True(t, st.Running)

	lost := &api.AllocationListStub{ID: "a1", NodeName: "n1", ClientStatus: "lost", ClientDescription: "alloc is lost since its node is down", ModifyTime: finished.UnixNano(),
		TaskStates: map[string]*api.TaskState{taskName: {StartedAt: started}}}
	st, err = e.stateOf(ctx, view(lost))
	must.NoError(t, err)
	must.False(t, st.Running)
	must.Eq(t, "Nomad lost node n1 while the job ran there (alloc is lost since its node is down); its exit code is unknown", st.Error)
	must.Eq(t, finished, st.FinishedAt.UTC())

	// Stopped while the image was being prepared: killed, not a success.
	st, err = e.stateOf(ctx, view(&api.AllocationListStub{ID: "a1", NodeName: "n1", ClientStatus: "complete", DesiredStatus: "stop",
		TaskStates: map[string]*api.TaskState{taskName: {Events: []*api.TaskEvent{{Type: api.TaskReceived}, {Type: api.TaskKilling}, {Type: api.TaskKilled}}}}}))
	must.NoError(t, err)
	must.False(t, st.Running)
	must.Eq(t, "", st.Error)
	must.Eq(t, 137, st.ExitCode)

	// Withdrawn: Requeue wins over whatever allocation it had.
	v := view(lost)
	v.stop, v.meta = true, map[string]string{MetaRequeue: "Nomad could not place the job"}
	st, err = e.stateOf(ctx, v)
	must.NoError(t, err)
	must.True(t, st.Requeue)
	must.False(t, st.Running)
	must.Eq(t, "Nomad could not place the job", st.Error)
}

func TestConfigStringHidesToken(t *testing.T) {
	t.Parallel()
	c := Config{Address: "http://n:4646", Token: "s3cr3t-uuid"}
	for _, out := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v", c, &c)} {
		must.StrNotContains(t, out, "s3cr3t")
		must.StrContains(t, out, "http://n:4646")
	}
}
