package swarm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/internal/testlog"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/executortest"
	godswarm "github.com/godocker/god/plugins/executor/swarm"
)

// userDir is a host directory the test user can write.
func userDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if os.Geteuid() == 0 {
		must.NoError(t, os.Chown(d, aliceUID, aliceGID))
	} else {
		must.NoError(t, os.Chmod(d, 0o777))
	}
	return d
}

func waitEnded(t *testing.T, ctx context.Context, e executor.Executor, id int64) *executor.State {
	t.Helper()
	for {
		st, err := e.Inspect(ctx, id)
		must.NoError(t, err)
		if !st.Running && !st.FinishedAt.IsZero() {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %d still running: %+v", id, st)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitFile(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("never written: %s", path)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestServiceSpec: what Swarm holds for a job: one replica never
// restarted, the store's labels on the service and its containers, the
// user, groups, dropped capabilities, init, the limits and reservations,
// the nodes to avoid, the mounts, and no-new-privileges by the helper.
func TestServiceSpec(t *testing.T) {
	t.Parallel()
	e := open(t, godswarm.Config{Constraints: []string{"node.role==manager"}})
	cleanup(t, e)
	ctx := testContext(t)
	cli := engineClient(t)
	dir := userDir(t)

	tk := task(21, "true")
	tk.CPU, tk.Memory = 0.5, 64<<20
	tk.Mounts = []executor.Mount{{Source: dir, Target: "/data"}, {Source: dir, Target: "/ro", ReadOnly: true}}
	tk.AvoidNodes = []string{"some-other-node"}
	tk.Env = []string{"A=b"}
	st, err := e.Start(ctx, tk)
	must.NoError(t, err)
	res, err := cli.ServiceInspect(ctx, st.ID, client.ServiceInspectOptions{})
	must.NoError(t, err)
	s := res.Service.Spec
	must.StrHasSuffix(t, "-21", s.Name)
	must.Eq(t, st.Name, s.Name)
	for _, labels := range []map[string]string{s.Labels, s.TaskTemplate.ContainerSpec.Labels} {
		must.Eq(t, "21", labels[godswarm.LabelJobID])
		must.Eq(t, "23001", labels[godswarm.LabelOwner])
		must.Eq(t, "test-21", labels[godswarm.LabelJobName])
		must.Eq(t, 16, len(labels[godswarm.LabelStoreID]))
	}
	must.Eq(t, uint64(1), *s.Mode.Replicated.Replicas)
	must.Eq(t, swarm.RestartPolicyConditionNone, s.TaskTemplate.RestartPolicy.Condition)
	must.Eq(t, uint64(0), *s.TaskTemplate.RestartPolicy.MaxAttempts)
	cs := s.TaskTemplate.ContainerSpec
	must.Eq(t, "23001:23001", cs.User)
	must.Eq(t, []string{"23100"}, cs.Groups)
	must.Eq(t, []string{"ALL"}, cs.CapabilityDrop)
	must.SliceEmpty(t, cs.CapabilityAdd)
	must.True(t, *cs.Init)
	must.Eq(t, []string{"A=b"}, cs.Env)
	must.Eq(t, "/.god-nnp", cs.Command[0], must.Sprint("the engine here (20.10) needs the helper"))
	must.Eq(t, []string{"bash", "-c", "true"}, cs.Command[1:])
	must.Eq(t, 5*time.Second, *cs.StopGracePeriod)
	r := s.TaskTemplate.Resources
	must.Eq(t, int64(5e8), r.Limits.NanoCPUs)
	must.Eq(t, int64(64<<20), r.Limits.MemoryBytes)
	must.Eq(t, int64(5e8), r.Reservations.NanoCPUs)
	must.Eq(t, int64(64<<20), r.Reservations.MemoryBytes)
	must.Eq(t, []string{"node.role==manager", "node.hostname!=some-other-node"}, s.TaskTemplate.Placement.Constraints)
	must.SliceLen(t, 3, cs.Mounts)
	must.Eq(t, mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/data", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate}}, cs.Mounts[0])
	must.True(t, cs.Mounts[1].ReadOnly)
	must.True(t, cs.Mounts[2].ReadOnly, must.Sprint("the helper is bound read-only"))

	// The container the node's engine made from it.
	ended := waitEnded(t, ctx, e, 21)
	must.Eq(t, 0, ended.ExitCode)
	must.NotEq(t, "", ended.Node)
	must.Eq(t, st.Name, ended.Links[godswarm.LinkService])
	tasks, err := cli.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", st.ID)})
	must.NoError(t, err)
	must.SliceLen(t, 1, tasks.Items)
	must.Eq(t, tasks.Items[0].ID, ended.Links[godswarm.LinkTask])
	c, err := cli.ContainerInspect(ctx, tasks.Items[0].Status.ContainerStatus.ContainerID, client.ContainerInspectOptions{})
	must.NoError(t, err)
	hc := c.Container.HostConfig
	must.False(t, hc.Privileged)
	must.SliceContains(t, hc.CapDrop, "ALL")
	must.Eq(t, int64(64<<20), hc.Memory)
	must.Eq(t, int64(5e8), hc.NanoCPUs)
	must.Eq(t, int64(4096), *hc.PidsLimit)
	must.False(t, hc.NetworkMode.IsHost())
	must.False(t, hc.PidMode.IsHost())
	for _, m := range c.Container.Mounts {
		must.StrNotContains(t, m.Source, "docker.sock")
	}

	// A root job keeps the engine's defaults but the risky ones.
	root := task(22, "true")
	root.UID, root.GID, root.Groups = 0, 0, nil
	st, err = e.Start(ctx, root)
	must.NoError(t, err)
	res, err = cli.ServiceInspect(ctx, st.ID, client.ServiceInspectOptions{})
	must.NoError(t, err)
	must.SliceContains(t, res.Service.Spec.TaskTemplate.ContainerSpec.CapabilityDrop, "CAP_MKNOD")
	must.SliceNotContains(t, res.Service.Spec.TaskTemplate.ContainerSpec.CapabilityDrop, "ALL")
	must.SliceEmpty(t, res.Service.Spec.TaskTemplate.ContainerSpec.CapabilityAdd)
}

// TestForeignService: a service with the job's name that this store did
// not create is neither reported as the job's nor started; one of the
// store's naming owned by another uid is refused.
func TestForeignService(t *testing.T) {
	t.Parallel()
	storeID := executortest.NewStoreID()
	e := open(t, godswarm.Config{StoreID: storeID})
	cleanup(t, e)
	ctx := testContext(t)
	cli := engineClient(t)

	name := e.ServiceName(5)
	one := uint64(0)
	created, err := cli.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testImage, Command: []string{"true"}}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
	}})
	must.NoError(t, err)
	t.Cleanup(func() { _, _ = cli.ServiceRemove(context.Background(), created.ID, client.ServiceRemoveOptions{}) })
	_, err = e.Inspect(ctx, 5)
	must.Error(t, err)
	must.False(t, errors.Is(err, executor.ErrNotFound))
	_, err = e.Start(ctx, task(5, "true"))
	must.Error(t, err)
	must.Error(t, e.Remove(ctx, 5))
	must.Error(t, e.Kill(ctx, 5))
	_, err = cli.ServiceInspect(ctx, created.ID, client.ServiceInspectOptions{})
	must.NoError(t, err, must.Sprint("the foreign service is left alone"))

	// Job 6 of this store, submitted by bob: not alice's job 6.
	bob := task(6, "sleep 30")
	bob.Owner, bob.UID, bob.GID = 23002, 23002, 23002
	_, err = e.Start(ctx, bob)
	must.NoError(t, err)
	_, err = e.Start(ctx, task(6, "sleep 30"))
	must.ErrorContains(t, err, "belongs to uid 23002")
}

// TestForeignStoreReportedOnce: the List of a store logs another store's
// service of the same instance once, and leaves it out.
func TestForeignStoreReportedOnce(t *testing.T) {
	t.Parallel()
	var logs testlog.Buffer
	a := open(t, godswarm.Config{})
	cleanup(t, a)
	ctx := testContext(t)
	_, err := a.Start(ctx, task(1, "sleep 30"))
	must.NoError(t, err)
	b := open(t, godswarm.Config{Instance: a.Instance(), Logger: hclog.New(&hclog.LoggerOptions{Output: &logs})})
	cleanup(t, b)
	for range 2 {
		l, err := b.List(ctx)
		must.NoError(t, err)
		must.SliceEmpty(t, l)
	}
	must.Eq(t, 1, strings.Count(logs.String(), "service of another job store left alone"), must.Sprint(logs.String()))
}

// TestAvoidNodes: a job that must avoid the only node is refused for
// good, and no service is left.
func TestAvoidNodes(t *testing.T) {
	t.Parallel()
	e := open(t, godswarm.Config{})
	cleanup(t, e)
	ctx := testContext(t)
	info, err := engineClient(t).Info(ctx, client.InfoOptions{})
	must.NoError(t, err)
	tk := task(31, "true")
	tk.AvoidNodes = []string{info.Info.Name}
	_, err = e.Start(ctx, tk)
	must.ErrorIs(t, err, executor.ErrPermanent)
	_, err = e.Inspect(ctx, 31)
	must.ErrorIs(t, err, executor.ErrNotFound)
}

// TestUnplaceable: a job no node can take now (a constraint, GPUs no node
// offers) waits, running from the agent's side, and can be killed or
// stopped before it ever started (137), which it then never does.
func TestUnplaceable(t *testing.T) {
	t.Parallel()
	e := open(t, godswarm.Config{Constraints: []string{"node.labels.god-test-none==1"}})
	cleanup(t, e)
	ctx := testContext(t)
	dir := userDir(t)

	tk := task(41, "echo ran > /data/ran")
	tk.Mounts = []executor.Mount{{Source: dir, Target: "/data"}}
	st, err := e.Start(ctx, tk)
	must.NoError(t, err)
	must.True(t, st.Running)
	must.True(t, st.StartedAt.IsZero())
	err = e.Pause(ctx, 41)
	must.ErrorContains(t, err, "has not started")
	must.NoError(t, e.Kill(ctx, 41))
	ended := waitEnded(t, ctx, e, 41)
	must.Eq(t, 137, ended.ExitCode)

	gpu := task(42, "true")
	gpu.GPUs = 1
	st, err = e.Start(ctx, gpu)
	must.NoError(t, err)
	must.True(t, st.Running)
	res, err := engineClient(t).ServiceInspect(ctx, st.ID, client.ServiceInspectOptions{})
	must.NoError(t, err)
	must.Eq(t, []swarm.GenericResource{{DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: "NVIDIA-GPU", Value: 1}}},
		res.Service.Spec.TaskTemplate.Resources.Reservations.GenericResources)
	must.NoError(t, e.Stop(ctx, 42))
	must.Eq(t, 137, waitEnded(t, ctx, e, 42).ExitCode)
	_, err = os.Stat(filepath.Join(dir, "ran"))
	must.True(t, os.IsNotExist(err), must.Sprint("a job killed before it started never runs"))
}

// TestRemoteNode: for a task on a node whose engine the agent does not
// reach, the state comes from the task status, Stop and Kill go through
// Swarm (scaled to zero: SIGTERM, SIGKILL after the kill timeout; the
// exit code is lost with the task), and Pause is refused with the reason.
func TestRemoteNode(t *testing.T) {
	t.Parallel()
	e := open(t, godswarm.Config{})
	cleanup(t, e)
	godswarm.PretendRemote(e)
	ctx := testContext(t)
	dir := userDir(t)
	mounts := []executor.Mount{{Source: dir, Target: "/data"}}

	tk := task(51, `trap 'echo term > /data/term; exit 42' TERM; echo up > /data/up; while true; do sleep 0.1; done`)
	tk.Mounts = mounts
	_, err := e.Start(ctx, tk)
	must.NoError(t, err)
	waitFile(t, ctx, filepath.Join(dir, "up"))
	err = e.Pause(ctx, 51)
	must.ErrorIs(t, err, executor.ErrNotSupported)
	must.ErrorContains(t, err, "reaches only the engine of node elsewhere")
	must.NoError(t, e.Stop(ctx, 51))
	ended := waitEnded(t, ctx, e, 51)
	// The job's own exit code if read before Swarm deletes the
	// scaled-down task, else that of a kill.
	must.True(t, ended.ExitCode == 42 || ended.ExitCode == 137, must.Sprintf("%+v", ended))
	must.Eq(t, []string{"term"}, strings.Fields(readFile(t, filepath.Join(dir, "term"))), must.Sprint("SIGTERM reached the job first"))

	// A job that ignores SIGTERM: killed at its kill timeout.
	stubborn := task(52, `trap '' TERM; echo up > /data/up2; while true; do sleep 0.1; done`)
	stubborn.Mounts = mounts
	stubborn.KillTimeout = time.Second
	_, err = e.Start(ctx, stubborn)
	must.NoError(t, err)
	waitFile(t, ctx, filepath.Join(dir, "up2"))
	must.NoError(t, e.Kill(ctx, 52))
	must.Eq(t, 137, waitEnded(t, ctx, e, 52).ExitCode)

	_, err = e.Start(ctx, task(53, "exit 3"))
	must.NoError(t, err)
	st := waitEnded(t, ctx, e, 53)
	must.Eq(t, 3, st.ExitCode)
	must.Eq(t, "", st.Error)
	must.NotEq(t, "", st.Node)
}

// TestContainerRemovedBehindBack: a task's container removed outside
// GoDocker is reported as Removing, so its 137 is not taken for the job's
// end.
func TestContainerRemovedBehindBack(t *testing.T) {
	t.Parallel()
	e := open(t, godswarm.Config{})
	cleanup(t, e)
	ctx := testContext(t)
	cli := engineClient(t)
	st, err := e.Start(ctx, task(61, "sleep 60"))
	must.NoError(t, err)
	must.True(t, st.Running)
	tasks, err := cli.TaskList(ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", st.ID)})
	must.NoError(t, err)
	must.SliceLen(t, 1, tasks.Items)
	_, err = cli.ContainerRemove(ctx, tasks.Items[0].Status.ContainerStatus.ContainerID, client.ContainerRemoveOptions{Force: true})
	must.NoError(t, err)
	for {
		st, err = e.Inspect(ctx, 61)
		must.NoError(t, err)
		if !st.Running {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	must.True(t, st.Removing, must.Sprintf("%+v", st))
}

// TestCapacity: the ready, active nodes' cpus and memory, unless the
// configuration overrides them; no GPUs where no node offers them.
func TestCapacity(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	nodes, err := engineClient(t).NodeList(ctx, client.NodeListOptions{})
	must.NoError(t, err)
	var want executor.Capacity
	for _, n := range nodes.Items {
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive {
			want.CPU += float64(n.Description.Resources.NanoCPUs) / 1e9
			want.Memory += n.Description.Resources.MemoryBytes
		}
	}
	must.Positive(t, want.CPU)
	e := open(t, godswarm.Config{})
	cleanup(t, e)
	c, err := e.Capacity(ctx)
	must.NoError(t, err)
	must.Eq(t, want, c)
	o := open(t, godswarm.Config{CPU: 1.5, Memory: 1 << 30})
	cleanup(t, o)
	c, err = o.Capacity(ctx)
	must.NoError(t, err)
	must.Eq(t, executor.Capacity{CPU: 1.5, Memory: 1 << 30}, c)
	must.Eq(t, "swarm", e.Name())
	must.True(t, executor.Has(e.Capabilities(), executor.CapPause))
	must.False(t, executor.Has(e.Capabilities(), executor.CapLocalMounts), must.Sprint("tasks may run on any node"))
}

// TestNewRefusesWithoutNoNewPrivileges: on an engine that cannot set
// no-new-privileges on services, New refuses to run jobs without the
// helper, or through a helper that fails god-nnp's self-test, saying how
// to fix it.
func TestNewRefusesWithoutNoNewPrivileges(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	v, err := engineClient(t).ServerVersion(ctx, client.ServerVersionOptions{})
	must.NoError(t, err)
	if versions.GreaterThanOrEqualTo(v.APIVersion, "1.44") {
		t.Skipf("skipping: the engine (API %s) sets no-new-privileges on services itself", v.APIVersion)
	}
	open(t, godswarm.Config{}) // skips without a swarm
	_, err = godswarm.New(ctx, godswarm.Config{StoreID: executortest.NewStoreID(), Instance: "godsw-nohelper"})
	must.ErrorContains(t, err, "nnp_helper")
	_, err = godswarm.New(ctx, godswarm.Config{StoreID: executortest.NewStoreID(), NNPHelper: "/nonexistent/god-nnp"})
	must.ErrorContains(t, err, "is not an executable file")

	// An executable that runs its arguments without setting no_new_privs
	// (as a god-nnp before its self-test did, now and then): every job
	// would run without it. Refused.
	fake := filepath.Join(t.TempDir(), "god-nnp")
	must.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755))
	_, err = godswarm.New(ctx, godswarm.Config{StoreID: executortest.NewStoreID(), NNPHelper: fake})
	must.ErrorContains(t, err, "failed its self-test")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must.NoError(t, err)
	return string(b)
}
