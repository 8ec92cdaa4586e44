// Package docker runs GoDocker jobs as containers on one Docker engine (the
// local one by default). Each job gets one container named after its store
// and its id (<instance>-<store>-<job id>), so the engine itself guarantees
// a job is never started twice, and a store never takes another store's
// container for one of its jobs.
package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/godocker/god/internal/failpoint"
	"github.com/godocker/god/plugins/executor"
)

// Labels set on every container this executor creates.
const (
	LabelJobID    = "god.job-id"
	LabelInstance = "god.instance"
	LabelJobName  = "god.job-name"
	LabelStoreID  = "god.store-id"  // the whole id of the job's store
	LabelOwner    = "god.owner-uid" // the submitter's uid
)

// Config of the executor.
type Config struct {
	// Address of the engine: unix:///var/run/docker.sock (default), tcp://...
	Address string
	// Instance names this GoDocker installation; containers are named
	// <Instance>-<store>-<job id> and labelled with it, so two installations can share
	// an engine without touching each other's containers.
	Instance string
	// StoreID is the identity of the job store whose jobs this executor
	// runs (store.Identity.ID, 16 hex digits; required). Containers carry
	// its first 8 digits in their name and all of it in a label; the
	// executor sees, lists and acts on no other container. LegacyMaxJob
	// (store.Identity.LegacyMaxJob) lets it also recognise the containers
	// of jobs up to that id made by the release before store identities,
	// named <Instance>-<job id> without a store label.
	StoreID      string
	LegacyMaxJob int64
	// Logger reports containers of the instance that belong to another
	// store, once each; nil: not reported.
	Logger hclog.Logger
	// CPU and Memory override the engine's reported capacity when > 0.
	CPU    float64
	Memory int64
	// GPUs is how many NVIDIA GPUs the host offers jobs: the engine does
	// not report them, so 0 (the default) means none.
	GPUs int
	// PidsLimit caps processes per container (fork bombs); 0 means 4096.
	PidsLimit int64
	// PullTimeout bounds an image pull; 0 means 10 minutes.
	PullTimeout time.Duration
}

// Executor implements executor.Executor on the Docker Engine API.
type Executor struct {
	cfg Config
	cli *client.Client

	mu sync.Mutex
	// starting serializes the Start calls of one job. Unserialized, the
	// losers of the create race get the name conflict before the engine
	// can inspect the container (so ErrNotFound), and a Start that finds
	// the container created but not yet started by another would start it
	// again once it has ended, or force-remove it if its own start failed.
	starting executor.JobLocks
	node     string // the engine's host name
	// foreign are the containers of another store already reported.
	foreign sync.Map

	// signalled are the containers (by engine id) the engine was asked
	// to signal, seen on the event stream: their end is not their job's
	// own unless GoDocker asked.
	signalled sync.Map

	// The engine's outages seen from the event stream: downSince is when
	// the stream broke (zero while it runs); stopped are the outages of
	// an engine without live-restore, which stopped its containers.
	outageMu  sync.Mutex
	downSince time.Time
	stopped   []outage
}

// outage is a span of time the engine was down.
type outage struct{ from, to time.Time }

var _ executor.Executor = (*Executor)(nil)

// New connects to the engine and checks that it answers, so a missing engine
// is reported at start-up with how to fix it rather than at the first job.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if cfg.Address == "" {
		cfg.Address = "unix:///var/run/docker.sock"
	}
	if cfg.Instance == "" {
		cfg.Instance = "god"
	}
	if len(cfg.StoreID) < 8 {
		return nil, fmt.Errorf("docker executor: the job store's id is required (got %q)", cfg.StoreID)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.PidsLimit == 0 {
		cfg.PidsLimit = 4096
	}
	if cfg.PullTimeout == 0 {
		cfg.PullTimeout = 10 * time.Minute
	}
	cli, err := client.New(client.WithHost(cfg.Address))
	if err != nil {
		return nil, fmt.Errorf("docker address %q: %w", cfg.Address, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("cannot reach the Docker engine at %s: %w; start it (for example `dockerd &` as root, or `systemctl start docker`) or set docker { address = \"...\" } in the agent config", cfg.Address, err)
	}
	e := &Executor{cfg: cfg, cli: cli}
	// The engine's host name is the node every job runs on.
	if info, err := cli.Info(pctx, client.InfoOptions{}); err == nil {
		e.node = info.Info.Name
	}
	return e, nil
}

// Close releases the engine connection.
func (e *Executor) Close() error { return e.cli.Close() }

// Name implements executor.Executor.
func (e *Executor) Name() string { return "docker" }

// Capabilities implements executor.Executor.
func (e *Executor) Capabilities() []executor.Capability {
	caps := []executor.Capability{executor.CapKill, executor.CapPause, executor.CapGPUs, executor.CapExec}
	if strings.HasPrefix(e.cfg.Address, "unix://") {
		caps = append(caps, executor.CapLocalMounts)
	}
	return caps
}

// Capacity implements executor.Executor: the engine's cpus and memory unless
// the configuration overrides them, and the configured GPUs.
func (e *Executor) Capacity(ctx context.Context) (executor.Capacity, error) {
	c := executor.Capacity{CPU: e.cfg.CPU, Memory: e.cfg.Memory, GPUs: e.cfg.GPUs}
	if c.CPU > 0 && c.Memory > 0 {
		return c, nil
	}
	info, err := e.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return c, fmt.Errorf("docker info: %w", err)
	}
	if c.CPU <= 0 {
		c.CPU = float64(info.Info.NCPU)
	}
	if c.Memory <= 0 {
		c.Memory = info.Info.MemTotal
	}
	return c, nil
}

func (e *Executor) containerName(jobID int64) string {
	return e.cfg.Instance + "-" + e.cfg.StoreID[:8] + "-" + strconv.FormatInt(jobID, 10)
}

// legacyName is the name the release before store identities gave the
// container of job jobID; "" when jobID is not a legacy job of the store.
func (e *Executor) legacyName(jobID int64) string {
	if jobID <= 0 || jobID > e.cfg.LegacyMaxJob {
		return ""
	}
	return e.cfg.Instance + "-" + strconv.FormatInt(jobID, 10)
}

// ours tells whether a container with these labels belongs to this
// executor's store, and whether it is of the old naming.
func (e *Executor) ours(labels map[string]string, jobID int64) (ok, legacy bool) {
	if labels[LabelInstance] != e.cfg.Instance {
		return false, false
	}
	sid, labelled := labels[LabelStoreID]
	if labelled {
		return sid == e.cfg.StoreID, false
	}
	return e.legacyName(jobID) != "", true
}

// reportForeign logs, once per container, one that is left alone because
// another store made it.
func (e *Executor) reportForeign(id, name string, labels map[string]string) {
	if _, seen := e.foreign.LoadOrStore(id, struct{}{}); seen {
		return
	}
	e.cfg.Logger.Warn("container of another job store left alone (neither adopted nor removed)",
		"container", strings.TrimPrefix(name, "/"), "store_id", labels[LabelStoreID], "job_id", labels[LabelJobID], "this_store", e.cfg.StoreID)
}

// Start implements executor.Executor.
func (e *Executor) Start(ctx context.Context, t *executor.Task) (*executor.State, error) {
	defer e.starting.Lock(t.JobID)()
	name := e.containerName(t.JobID)
	st, err := e.Inspect(ctx, t.JobID)
	switch {
	case err == nil && st.Legacy && !st.OwnedBy(t.Owner, t.UID):
		// Another store's job of the same number, from the release
		// before store identities: not this job's, so leave it alone
		// and give this job a container of its own.
	case err == nil && !st.OwnedBy(t.Owner, t.UID):
		return nil, fmt.Errorf("the engine has a container %s for job %d that belongs to uid %d, not to the job's owner (uid %d): GoDocker leaves it alone; remove it (docker rm -f %s) if it is stale", st.Name, t.JobID, st.Owner, t.Owner, st.Name)
	case err == nil && st.Removing:
		// The container of an earlier run, lost and being removed: the
		// new run waits until it is gone.
		return nil, fmt.Errorf("the container %s of an earlier run is being removed; the job starts once it is gone", st.Name)
	case err == nil && (st.Running || !st.FinishedAt.IsZero() || !st.StartedAt.IsZero()):
		// Started by an earlier attempt (the agent died before recording
		// it): never start a container twice.
		return st, nil
	case err == nil:
		// Created by an earlier attempt that died before starting it (or
		// whose start the engine may still be carrying out): start it, as
		// the engine starts a container once. Its staging mounts are this
		// attempt's (the same paths, pinned again); if it cannot start
		// all the same, it never ran: make it anew.
		_, serr := e.cli.ContainerStart(ctx, st.ID, client.ContainerStartOptions{})
		if serr == nil || ctx.Err() != nil {
			if serr != nil {
				return nil, fmt.Errorf("starting container: %w", serr)
			}
			return e.Inspect(ctx, t.JobID)
		}
		if _, err := e.cli.ContainerRemove(ctx, st.ID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("removing container that could not start (%v): %w", serr, err)
		}
	case !errors.Is(err, executor.ErrNotFound):
		return nil, err
	}
	if e.node != "" && slices.Contains(t.AvoidNodes, e.node) {
		return nil, executor.Permanent(fmt.Errorf("the job must avoid node %s, where it failed before, and this engine has no other node", e.node))
	}
	if err := e.ensureImage(ctx, t.Image); err != nil {
		return nil, err
	}
	_, err = e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     e.containerConfig(t),
		HostConfig: e.hostConfig(t),
	})
	if cerrdefs.IsConflict(err) {
		// Another start raced us to the name: the engine kept one container.
		st, ierr := e.Inspect(ctx, t.JobID)
		if errors.Is(ierr, executor.ErrNotFound) {
			// Still being made by a create the engine goes on with after
			// its caller gave up (an agent that died): try again later.
			return nil, fmt.Errorf("the engine is still creating container %s: %w", name, err)
		}
		return st, ierr
	}
	if err != nil {
		if cerrdefs.IsInvalidArgument(err) {
			return nil, executor.Permanent(fmt.Errorf("the engine refused the container: %w", err))
		}
		return nil, fmt.Errorf("creating container: %w", err)
	}
	failpoint.Hit(failpoint.AfterCreate)
	return e.start(ctx, t.JobID, name)
}

func (e *Executor) start(ctx context.Context, jobID int64, name string) (*executor.State, error) {
	if _, err := e.cli.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		if ctx.Err() != nil {
			// Cut short (the agent stopping), not refused: the engine may
			// have started it anyway, so keep it for the next Start.
			return nil, fmt.Errorf("starting container: %w", err)
		}
		// A container that cannot start (bad entrypoint, missing bash, mount
		// refused) never will: remove it and report a permanent failure.
		_, _ = e.cli.ContainerRemove(context.WithoutCancel(ctx), name, client.ContainerRemoveOptions{Force: true})
		return nil, executor.Permanent(fmt.Errorf("the container could not start: %w", err))
	}
	return e.Inspect(ctx, jobID)
}

func (e *Executor) containerConfig(t *executor.Task) *container.Config {
	return &container.Config{
		Image:      t.Image,
		Entrypoint: t.Entrypoint,
		Cmd:        nil,
		Env:        t.Env,
		WorkingDir: t.WorkDir,
		User:       strconv.Itoa(t.UID) + ":" + strconv.Itoa(t.GID),
		Labels: map[string]string{
			LabelJobID:    strconv.FormatInt(t.JobID, 10),
			LabelInstance: e.cfg.Instance,
			LabelJobName:  t.Name,
			LabelStoreID:  e.cfg.StoreID,
			LabelOwner:    strconv.Itoa(t.Owner),
		},
	}
}

// rootCapDrop are the engine's default capabilities that root jobs lose.
var rootCapDrop = []string{"MKNOD", "SETFCAP", "NET_RAW", "AUDIT_WRITE", "SYS_CHROOT"}

// hostConfig is the security boundary on the engine: never privileged, no
// added capabilities (all dropped for non-root users), no new privileges
// through setuid binaries, private namespaces, only the mounts the agent
// resolved, and engine-enforced limits.
func (e *Executor) hostConfig(t *executor.Task) *container.HostConfig {
	mounts := make([]mount.Mount, 0, len(t.Mounts))
	for _, m := range t.Mounts {
		mounts = append(mounts, mount.Mount{
			Type:        mount.TypeBind,
			Source:      m.Source,
			Target:      m.Target,
			ReadOnly:    m.ReadOnly,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate},
		})
	}
	groups := make([]string, 0, len(t.Groups))
	for _, g := range t.Groups {
		groups = append(groups, strconv.Itoa(g))
	}
	hc := &container.HostConfig{
		Mounts:      mounts,
		GroupAdd:    groups,
		Privileged:  false,
		SecurityOpt: []string{"no-new-privileges"},
		NetworkMode: "bridge",
		IpcMode:     "private",
		Init:        new(true),
		Resources: container.Resources{
			NanoCPUs:   int64(t.CPU * 1e9),
			Memory:     t.Memory,
			MemorySwap: t.Memory, // no swap beyond the memory limit
			PidsLimit:  new(e.cfg.PidsLimit),
		},
	}
	if t.GPUs > 0 {
		// `docker run --gpus N`: the NVIDIA runtime hook picks N devices.
		hc.DeviceRequests = []container.DeviceRequest{{Driver: "nvidia", Count: t.GPUs, Capabilities: [][]string{{"gpu"}}}}
	}
	if t.UID != 0 {
		hc.CapDrop = []string{"ALL"}
	} else {
		// Root keeps what installing and running software needs, not what
		// could plant something for the host in the writable job directory
		// (device nodes, file capabilities) or spy on the network.
		hc.CapDrop = rootCapDrop
	}
	return hc
}

func (e *Executor) ensureImage(ctx context.Context, image string) error {
	if _, err := e.cli.ImageInspect(ctx, image); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspecting image %s: %w", image, err)
	}
	pctx, cancel := context.WithTimeout(ctx, e.cfg.PullTimeout)
	defer cancel()
	resp, err := e.cli.ImagePull(pctx, image, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(pctx)
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("pulling image %s: %w", image, err) // cut short, not failed
	}
	if err != nil {
		return executor.Permanent(fmt.Errorf("image %s is not on the engine and pulling it failed: %w", image, err))
	}
	return nil
}

// Inspect implements executor.Executor: the job's container of this store
// (or of the old naming, for a legacy job).
func (e *Executor) Inspect(ctx context.Context, jobID int64) (*executor.State, error) {
	st, err := e.inspect(ctx, e.containerName(jobID), jobID)
	if errors.Is(err, executor.ErrNotFound) {
		if legacy := e.legacyName(jobID); legacy != "" {
			st, err = e.inspect(ctx, legacy, jobID)
		}
	}
	return st, err
}

// inspect reads container ref (a name or an id) as the one of job jobID.
func (e *Executor) inspect(ctx context.Context, ref string, jobID int64) (*executor.State, error) {
	res, err := e.cli.ContainerInspect(ctx, ref, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, executor.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("inspecting container of job %d: %w", jobID, err)
	}
	c := res.Container
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	ok, legacy := e.ours(labels, jobID)
	if !ok || labels[LabelJobID] != strconv.FormatInt(jobID, 10) {
		// A container of that name that we did not create: not ours to run.
		return nil, fmt.Errorf("container %s exists but was not created by GoDocker instance %q for job %d of store %s", strings.TrimPrefix(c.Name, "/"), e.cfg.Instance, jobID, e.cfg.StoreID)
	}
	// Without a valid owner label (or user, for the old naming) the
	// container is nobody's: -2 matches no uid, and is not OwnerUnknown.
	st := &executor.State{JobID: jobID, ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Node: e.node, Owner: -2, Legacy: legacy}
	if legacy {
		// The old release labelled no owner: the uid it runs as.
		uid, _, _ := strings.Cut(c.Config.User, ":")
		if n, err := strconv.Atoi(uid); err == nil {
			st.Owner = n
		}
	} else if n, err := strconv.Atoi(labels[LabelOwner]); err == nil {
		st.Owner = n
	}
	if c.State != nil {
		st.Running = c.State.Running
		st.Paused = c.State.Paused
		st.ExitCode = c.State.ExitCode
		st.OOMKilled = c.State.OOMKilled
		if !st.Running && st.ExitCode == 137 && !st.OOMKilled && c.HostConfig != nil && c.HostConfig.Memory > 0 {
			st.OOMKilled = e.lateOOM(ctx, c.ID)
		}
		st.Error = c.State.Error
		st.Removing = c.State.Status == "removing" || c.State.Dead
		st.StartedAt = parseTime(c.State.StartedAt)
		st.FinishedAt = parseTime(c.State.FinishedAt)
		if !st.Running && e.streamBroken() {
			// The engine is back but its outage is not classified yet.
			if err := e.settleOutage(ctx); err != nil {
				return nil, err
			}
		}
		switch sig, signalled := e.signalled.Load(c.ID); {
		case st.Running:
		case signalled:
			st.Interrupted = fmt.Sprintf("the container was sent signal %v from outside the job (docker stop or kill, or the engine stopping)", sig)
		case e.stoppedByEngine(st.FinishedAt):
			st.Interrupted = "the Docker engine stopped while the job ran and stopped its container (the engine runs without live-restore)"
		}
	}
	return st, nil
}

// lateOOM looks again at a container killed (137) under a memory limit:
// the engine learns of an out-of-memory kill apart from the exit (on
// cgroup v1, from another event), and may record it a moment later.
func (e *Executor) lateOOM(ctx context.Context, id string) bool {
	if _, signalled := e.signalled.Load(id); signalled {
		return false // someone sent the KILL
	}
	for range 5 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
		res, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil || res.Container.State == nil {
			return false
		}
		if res.Container.State.OOMKilled {
			return true
		}
	}
	return false
}

// streamBroken tells whether the event stream broke and the outage is
// not settled yet.
func (e *Executor) streamBroken() bool {
	e.outageMu.Lock()
	defer e.outageMu.Unlock()
	return !e.downSince.IsZero()
}

// settleOutage ends an outage the event stream saw, once the engine
// answers again: it asks the engine whether it kept its containers
// running while down (live-restore); if not, the outage is remembered so
// that ends within it are known as the engine's, not the jobs'.
func (e *Executor) settleOutage(ctx context.Context) error {
	info, err := e.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("docker info: %w", err)
	}
	e.outageMu.Lock()
	defer e.outageMu.Unlock()
	if e.downSince.IsZero() {
		return nil
	}
	if !info.Info.LiveRestoreEnabled {
		// The stream may break a moment after the engine began to stop.
		e.stopped = append(e.stopped, outage{e.downSince.Add(-2 * time.Second), time.Now()})
		e.stopped = e.stopped[max(0, len(e.stopped)-16):]
	}
	e.downSince = time.Time{}
	return nil
}

// stoppedByEngine tells whether a container that ended at t ended while
// an engine without live-restore was down.
func (e *Executor) stoppedByEngine(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	e.outageMu.Lock()
	defer e.outageMu.Unlock()
	for _, o := range e.stopped {
		if !t.Before(o.from) && !t.After(o.to) {
			return true
		}
	}
	return false
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 { // the engine says 0001-01-01 for "never"
		return time.Time{}
	}
	return t
}

// List implements executor.Executor: the containers of this store's jobs.
// Another store's containers of the same instance are left out (and
// reported once).
func (e *Executor) List(ctx context.Context) ([]*executor.State, error) {
	res, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: client.Filters{}.Add("label", LabelInstance+"="+e.cfg.Instance),
	})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := make([]*executor.State, 0, len(res.Items))
	for _, c := range res.Items {
		id, err := strconv.ParseInt(c.Labels[LabelJobID], 10, 64)
		if err != nil {
			continue
		}
		if ok, _ := e.ours(c.Labels, id); !ok {
			name := c.ID
			if len(c.Names) > 0 {
				name = c.Names[0]
			}
			e.reportForeign(c.ID, name, c.Labels)
			continue
		}
		st, err := e.inspect(ctx, c.ID, id)
		if errors.Is(err, executor.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// target is the id of job jobID's container, after Inspect made sure it is
// this store's: an action by name alone could reach another's.
func (e *Executor) target(ctx context.Context, jobID int64) (string, error) {
	st, err := e.Inspect(ctx, jobID)
	if err != nil {
		return "", err
	}
	return st.ID, nil
}

// Stop implements executor.Executor: SIGTERM to the container's init,
// which passes it to the agent's entrypoint, which passes it to every
// process of the job. A suspended (paused) job is resumed first: frozen,
// it could not act on the signal.
func (e *Executor) Stop(ctx context.Context, jobID int64) error {
	st, err := e.Inspect(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.Running {
		return nil
	}
	if st.Paused {
		if err := e.Unpause(ctx, jobID); err != nil {
			return err
		}
	}
	_, err = e.cli.ContainerKill(ctx, st.ID, client.ContainerKillOptions{Signal: "TERM"})
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("stopping container of job %d: %w", jobID, err)
}

// Kill implements executor.Executor. The engine kills a paused container
// as well (it sends SIGKILL, then thaws the cgroup so the signal lands), so
// Kill needs no Unpause first.
func (e *Executor) Kill(ctx context.Context, jobID int64) error {
	ref, err := e.target(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err == nil {
		_, err = e.cli.ContainerKill(ctx, ref, client.ContainerKillOptions{Signal: "KILL"})
	}
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) { // conflict: not running
		return nil
	}
	return fmt.Errorf("killing container of job %d: %w", jobID, err)
}

// Pause implements executor.Executor: the engine freezes the container's
// cgroup, so every process of the job stops, not only its first one.
func (e *Executor) Pause(ctx context.Context, jobID int64) error {
	ref, err := e.target(ctx, jobID)
	if err != nil {
		return err
	}
	_, err = e.cli.ContainerPause(ctx, ref, client.ContainerPauseOptions{})
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return executor.ErrNotFound
	case strings.Contains(err.Error(), "is already paused"): // a 409 conflict
		return nil
	}
	return fmt.Errorf("pausing container of job %d: %w", jobID, err)
}

// Unpause implements executor.Executor.
func (e *Executor) Unpause(ctx context.Context, jobID int64) error {
	ref, err := e.target(ctx, jobID)
	if err != nil {
		return err
	}
	_, err = e.cli.ContainerUnpause(ctx, ref, client.ContainerUnpauseOptions{})
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return executor.ErrNotFound
	case strings.Contains(err.Error(), "is not paused"):
		// A 409 conflict on recent engines, a plain 500 on 20.10: match
		// the message, whatever the class.
		return nil
	}
	return fmt.Errorf("unpausing container of job %d: %w", jobID, err)
}

// Remove implements executor.Executor.
func (e *Executor) Remove(ctx context.Context, jobID int64) error {
	ref, err := e.target(ctx, jobID)
	if errors.Is(err, executor.ErrNotFound) {
		return nil
	}
	if err == nil {
		_, err = e.cli.ContainerRemove(ctx, ref, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("removing container of job %d: %w", jobID, err)
}

// Events implements executor.Executor: one engine event stream for all jobs,
// instead of one waiting request per container.
//
// The stream also tells which containers the engine was asked to signal
// (State.Interrupted). A stream that breaks while ctx lives is the engine
// going away; the next subscription asks the engine whether it keeps
// containers running while it is down (live-restore). If it does not,
// containers that ended while it was down were stopped by it, not by
// their jobs (Interrupted as well).
func (e *Executor) Events(ctx context.Context) (<-chan executor.Event, error) {
	if err := e.settleOutage(ctx); err != nil {
		return nil, err
	}
	res := e.cli.Events(ctx, client.EventsListOptions{
		Filters: client.Filters{}.
			Add("type", "container").
			Add("event", "die", "kill", "destroy").
			Add("label", LabelInstance+"="+e.cfg.Instance),
	})
	out := make(chan executor.Event, 64)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-res.Err:
				if ctx.Err() == nil {
					e.outageMu.Lock()
					if e.downSince.IsZero() {
						e.downSince = time.Now()
					}
					e.outageMu.Unlock()
				}
				return
			case m := <-res.Messages:
				id, err := strconv.ParseInt(m.Actor.Attributes[LabelJobID], 10, 64)
				if err != nil {
					continue
				}
				if ok, _ := e.ours(m.Actor.Attributes, id); !ok {
					continue // another store's
				}
				switch m.Action {
				case "kill":
					// Seen before the die it causes, on the same stream.
					e.signalled.Store(m.Actor.ID, m.Actor.Attributes["signal"])
					continue
				case "destroy":
					e.signalled.Delete(m.Actor.ID)
					continue
				}
				select {
				case out <- executor.Event{JobID: id}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
