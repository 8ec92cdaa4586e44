// Package swarm runs GoDocker jobs on a Docker Swarm cluster. Each job is a
// service of one replica that is never restarted, named after its store
// and its id (<instance>-<store>-<job id>): Swarm keeps service names
// unique, so a job is never started twice, and a store never takes
// another store's service for one of its jobs.
//
// The executor talks to the engine of a manager node (the local one by
// default). What Swarm cannot do through a manager (signal, pause or
// inspect a container) it does through the engine of the manager's own
// node when the job's task runs there; a task on another node is stopped
// through the service (scaled to zero replicas) and cannot be suspended.
//
// Bind mounts (the job directory, the identity files, volumes) are paths
// of the node that runs the task: every node must see the agent's
// shared_dir and volumes at the same paths (shared storage).
package swarm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"github.com/godocker/god/plugins/executor"
)

// Labels set on every service and on its container spec: the Docker
// executor's, so a site's tooling reads both the same way.
const (
	LabelJobID    = "god.job-id"
	LabelInstance = "god.instance"
	LabelJobName  = "god.job-name"
	LabelStoreID  = "god.store-id"  // the whole id of the job's store
	LabelOwner    = "god.owner-uid" // the submitter's uid
)

// Keys of executor.State.Links.
const (
	LinkService = "swarm_service" // the service's name
	LinkTask    = "swarm_task"    // the id of its task
)

// nnpTarget is where the no_new_privs helper is bound in the container.
const nnpTarget = "/.god-nnp"

// Config of the executor.
type Config struct {
	// Address of a manager's engine: unix:///var/run/docker.sock (default).
	Address string
	// Instance names this GoDocker installation (as with the Docker
	// executor): services are named <Instance>-<store>-<job id>.
	Instance string
	// StoreID is the job store's identity (16 hex digits; required). The
	// executor sees, lists and acts on no other store's services.
	StoreID string
	// Logger reports services of the instance that belong to another
	// store, once each; nil: not reported.
	Logger hclog.Logger
	// CPU and Memory override the capacity read from the nodes when > 0.
	CPU    float64
	Memory int64
	// GPUResource is the kind of the nodes' generic resource that counts
	// GPUs (dockerd --node-generic-resource NVIDIA-GPU=<uuid>); a job's
	// GPUs are reserved as that many of it. "" means NVIDIA-GPU.
	GPUResource string
	// Constraints are placement constraints every job gets
	// ("node.labels.god==true"), beside the nodes it must avoid.
	Constraints []string
	// PidsLimit caps processes per container; 0 means 4096.
	PidsLimit int64
	// NNPHelper is the path, on every node, of god-nnp (built by `make
	// build`): on an engine that cannot set no-new-privileges on a service
	// (before Docker 25) and was not started with --no-new-privileges,
	// jobs run through it; New refuses one that fails its self-test.
	// Ignored where the engine does it.
	NNPHelper string
	// StartTimeout bounds how long Start waits for Swarm to run the task,
	// or refuse it (an image no node has: a permanent failure); past it,
	// the job counts as running while Swarm goes on. 0 means 30s.
	StartTimeout time.Duration
	// PollInterval is how often Events polls the tasks, for those on
	// nodes other than the manager's (whose containers' ends are heard
	// from its engine at once). 0 means 1s.
	PollInterval time.Duration
}

// Executor implements executor.Executor on the Swarm API of a manager.
type Executor struct {
	cfg Config
	cli *client.Client
	// node is the id and hostname of the manager's own node, whose engine
	// the executor reaches.
	nodeID, nodeName string
	// nnp says how jobs get no-new-privileges: by the service spec, by the
	// engine's own default, or through the helper.
	nnp nnpMode

	// starting serializes the Start calls of one job.
	starting executor.JobLocks
	foreign  sync.Map // services of another store already reported
	mu       sync.Mutex
	names    map[string]string // node id -> hostname
}

type nnpMode int

const (
	nnpSpec nnpMode = iota
	nnpDaemon
	nnpHelper
)

var _ executor.Executor = (*Executor)(nil)

// New connects to a manager's engine and checks that it is an active
// manager, so a misconfiguration is reported at start-up with how to fix
// it rather than at the first job.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if cfg.Address == "" {
		cfg.Address = "unix:///var/run/docker.sock"
	}
	if cfg.Instance == "" {
		cfg.Instance = "god"
	}
	if len(cfg.StoreID) < 8 {
		return nil, fmt.Errorf("swarm executor: the job store's id is required (got %q)", cfg.StoreID)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.GPUResource == "" {
		cfg.GPUResource = "NVIDIA-GPU"
	}
	if cfg.PidsLimit == 0 {
		cfg.PidsLimit = 4096
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = time.Second
	}
	cli, err := client.New(client.WithHost(cfg.Address))
	if err != nil {
		return nil, fmt.Errorf("swarm address %q: %w", cfg.Address, err)
	}
	e := &Executor{cfg: cfg, cli: cli, names: map[string]string{}}
	if err := e.check(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	return e, nil
}

func (e *Executor) check(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := e.cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("cannot reach the Docker engine at %s: %w; start it, or set swarm { address = \"...\" } to a manager's engine", e.cfg.Address, err)
	}
	res, err := e.cli.Info(pctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("docker info at %s: %w", e.cfg.Address, err)
	}
	info := res.Info
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive || !info.Swarm.ControlAvailable {
		return fmt.Errorf("the Docker engine at %s is not a Swarm manager (swarm state %q): run `docker swarm init --advertise-addr <address>` there, or point swarm { address } at a manager", e.cfg.Address, info.Swarm.LocalNodeState)
	}
	e.nodeID, e.nodeName = info.Swarm.NodeID, info.Name
	switch {
	case versions.GreaterThanOrEqualTo(e.cli.ClientVersion(), "1.44"):
		e.nnp = nnpSpec
	case slices.ContainsFunc(info.SecurityOptions, func(o string) bool { return strings.Contains(o, "no-new-privileges") }):
		e.nnp = nnpDaemon
	case e.cfg.NNPHelper != "":
		fi, err := os.Stat(e.cfg.NNPHelper)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("swarm.nnp_helper %q is not an executable file (%v): build it with `make build` (bin/god-nnp) and install it at that path on every node", e.cfg.NNPHelper, err)
		}
		if err := selfTest(ctx, e.cfg.NNPHelper); err != nil {
			return err
		}
		e.nnp = nnpHelper
	default:
		return fmt.Errorf("the engine at %s (API %s) cannot set no-new-privileges on Swarm services (Docker 25, API 1.44, can), so jobs could gain root through setuid binaries: set swarm { nnp_helper = \"/path/to/god-nnp\" } (built by `make build`, installed on every node), or run dockerd with --no-new-privileges on every node", e.cfg.Address, e.cli.ClientVersion())
	}
	return nil
}

// nnpSelfTestOK is what `god-nnp -selftest` prints (cmd/god-nnp).
const nnpSelfTestOK = "god-nnp: no_new_privs=1 (thread-locked, checked before exec)"

// selfTest runs the helper's self-test: jobs run through whatever program
// nnp_helper names, so one that does not set no_new_privs reliably (any
// other program, or a god-nnp before the fix that keeps the bit and
// execve on one thread) would run every job without it. Only this node's
// copy can be checked; the others must be the same build.
func selfTest(ctx context.Context, helper string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, helper, "-selftest")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != nnpSelfTestOK {
		return fmt.Errorf("swarm.nnp_helper %q failed its self-test (%v; printed %q, %q): it is not a current god-nnp, and jobs run through it could gain privileges; build it with `make build` (bin/god-nnp) and install it at that path on every node", helper, err, got, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Close releases the engine connection.
func (e *Executor) Close() error { return e.cli.Close() }

// Name implements executor.Executor.
func (e *Executor) Name() string { return "swarm" }

// Capabilities implements executor.Executor. Pause works for tasks on the
// manager's node; on another node it is refused with the reason. No
// CapLocalMounts: a task may run on any node, where the agent's pinned
// staging paths do not exist.
func (e *Executor) Capabilities() []executor.Capability {
	return []executor.Capability{executor.CapKill, executor.CapPause, executor.CapGPUs}
}

func (e *Executor) serviceName(jobID int64) string {
	return e.cfg.Instance + "-" + e.cfg.StoreID[:8] + "-" + strconv.FormatInt(jobID, 10)
}

// ours tells whether a service with these labels is this store's job
// jobID (jobID < 0: any job).
func (e *Executor) ours(labels map[string]string, jobID int64) bool {
	if labels[LabelInstance] != e.cfg.Instance || labels[LabelStoreID] != e.cfg.StoreID {
		return false
	}
	return jobID < 0 || labels[LabelJobID] == strconv.FormatInt(jobID, 10)
}

// reportForeign logs, once per service, one left alone because another
// store made it.
func (e *Executor) reportForeign(s *swarm.Service) {
	if _, seen := e.foreign.LoadOrStore(s.ID, struct{}{}); seen {
		return
	}
	l := s.Spec.Labels
	e.cfg.Logger.Warn("service of another job store left alone (neither adopted nor removed)",
		"service", s.Spec.Name, "store_id", l[LabelStoreID], "job_id", l[LabelJobID], "this_store", e.cfg.StoreID)
}

// nodeName is the hostname of a node, for people and AvoidNodes.
func (e *Executor) hostname(ctx context.Context, nodeID string) string {
	if nodeID == "" {
		return ""
	}
	e.mu.Lock()
	name, ok := e.names[nodeID]
	e.mu.Unlock()
	if ok {
		return name
	}
	res, err := e.cli.NodeInspect(ctx, nodeID, client.NodeInspectOptions{})
	if err != nil {
		return nodeID // a node gone from the cluster: its id is all there is
	}
	name = res.Node.Description.Hostname
	e.mu.Lock()
	e.names[nodeID] = name
	e.mu.Unlock()
	return name
}

// ServiceName is the name of job jobID's service.
func (e *Executor) ServiceName(jobID int64) string { return e.serviceName(jobID) }

// Instance is the configured instance name.
func (e *Executor) Instance() string { return e.cfg.Instance }
