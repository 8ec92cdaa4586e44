package command

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/agent"
	"github.com/godocker/god/agent/cluster"
	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/jobstore"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/docker"
	"github.com/godocker/god/plugins/executor/nomad"
	"github.com/godocker/god/plugins/executor/swarm"
	"github.com/godocker/god/store"
)

// AgentCommand runs the daemon.
type AgentCommand struct {
	Meta
}

func (c *AgentCommand) Synopsis() string { return "Run the GoDocker agent" }

func (c *AgentCommand) Help() string {
	return strings.TrimSpace(`
Usage: god agent [options]

  Run the GoDocker agent: the HTTP API on a Unix socket (every local user may
  connect and is identified by the kernel), the scheduler, the watcher, and
  the job store. It runs jobs as containers on the local Docker engine, as
  the user who submitted them. Stop it with SIGINT or SIGTERM: running jobs
  keep running and are adopted when the agent starts again.

Agent Options:

  -dev
    Run in development mode: data in /tmp/god-dev (kept across restarts),
    socket /tmp/god-dev/god.sock, and the HTTP API on 127.0.0.1:6543 without
    authentication (loopback callers are identified by the kernel).

  -config=<path>
    Read an HCL agent configuration file (see example.hcl). May be repeated;
    later files override earlier ones. With -dev, files override dev defaults.

  -data-dir=<path>
    Directory of the job store (unless a store "redis" block is set) and of
    the shared job directories (unless shared_dir is set). Overrides
    data_dir.
`)
}

type stringSlice []string

func (s *stringSlice) String() string     { return strings.Join(*s, ",") }
func (s *stringSlice) Set(v string) error { *s = append(*s, v); return nil }

func (c *AgentCommand) Run(args []string) int {
	var dev bool
	var configs stringSlice
	var dataDir string
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&dev, "dev", false, "")
	fs.Var(&configs, "config", "")
	fs.StringVar(&dataDir, "data-dir", "", "")
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	if fs.NArg() > 0 {
		c.Ui.Error("This command takes no arguments, got: " + strings.Join(fs.Args(), " "))
		return 1
	}
	cfg := config.Default()
	if dev {
		cfg = config.Dev()
	}
	for _, path := range configs {
		var err error
		if cfg, err = config.Load(path, cfg); err != nil {
			c.Ui.Error(err.Error())
			return 1
		}
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
		if dev {
			cfg.Socket = "" // follow the data dir
		}
	}
	if err := cfg.Finalize(); err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "god", Level: hclog.LevelFromString(cfg.LogLevel), Output: os.Stderr})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The data dir holds the socket in dev mode and the shared job dirs by
	// default, so users must be able to traverse it; the store is private.
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		c.Ui.Error(fmt.Sprintf("Error creating data dir: %s", err))
		return 1
	}
	if cfg.Dev {
		_ = os.Chmod(cfg.DataDir, 0o755)
	}
	st, err := jobstore.Open(ctx, cfg)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error opening the job store: %s", err))
		return 1
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the job store", "error", err)
		}
	}()
	ex, err := openExecutor(ctx, cfg, st.Identity(), log)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error starting the %s executor: %s", cfg.Executor, err))
		return 1
	}
	defer ex.Close()
	policy, stopPolicy, err := agent.OpenPolicy(cfg, log)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error starting the scheduler: %s", err))
		return 1
	}
	defer stopPolicy()
	opts := agent.Options{Store: st.Store, Executor: ex, Scheduler: policy, Logger: log}
	if cfg.Cluster != nil {
		if opts.Cluster, err = cluster.New(*cfg.Cluster, log); err != nil {
			c.Ui.Error(fmt.Sprintf("Error joining the cluster: %s", err))
			return 1
		}
	}
	a, err := agent.New(cfg, opts)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error starting the agent: %s", err))
		return 1
	}
	where := fmt.Sprintf("data dir %s, socket %s", cfg.DataDir, cfg.Socket)
	if cfg.Store.Backend != "sqlite" {
		where += ", store " + st.String()
	}
	c.Ui.Output(fmt.Sprintf("==> GoDocker agent started (%s)", where))
	if cfg.Dev {
		c.Ui.Output("    dev mode: try `god job init && god job run task.hcl`")
	}
	if cfg.HTTP.Enabled {
		c.Ui.Output(fmt.Sprintf("    HTTP API on %s://%s:%d", cfg.HTTP.Scheme(), cfg.HTTP.Address, cfg.HTTP.Port))
	}
	if k := cfg.Cluster; k != nil {
		c.Ui.Output(fmt.Sprintf("    cluster member %s (roles %s), advertised at %s", k.NodeName, strings.Join(cfg.Roles, ", "), k.Advertise))
	}
	// An agent that lost the lock of a shared store stops: another agent
	// may be starting on it.
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() {
		select {
		case <-st.Lost():
			log.Error("lost the job store's agent lock: stopping", "error", st.LostErr())
			cancelRun()
		case <-runCtx.Done():
		}
	}()
	err = a.Run(runCtx)
	if lost := st.LostErr(); lost != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s; the agent stopped so that two agents never schedule on one store", lost))
		return 1
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	c.Ui.Output("==> GoDocker agent stopped")
	return 0
}

// closingExecutor is an executor with resources to release.
type closingExecutor interface {
	executor.Executor
	Close() error
}

// openExecutor starts the executor the configuration names.
func openExecutor(ctx context.Context, cfg *config.Config, ident store.Identity, log hclog.Logger) (closingExecutor, error) {
	if cfg.Executor == "nomad" {
		n := cfg.Nomad
		return nomad.New(ctx, nomad.Config{
			Address: n.Address, Token: n.Token, Region: n.Region, Namespace: n.Namespace,
			Datacenters: n.Datacenters, NodePool: n.NodePool, Instance: n.Instance,
			StoreID: ident.ID, LegacyMaxJob: ident.LegacyMaxJob, Logger: log.Named("nomad"),
			PlacementTimeout: n.PlacementTimeoutDuration, UIURL: n.UIURL, JobURL: n.JobURL,
			KillTimeout: n.KillTimeoutDuration, PidsLimit: n.PidsLimit, CPUMHzPerCore: n.CPUMHzPerCore,
			Priority: n.Priority, CACert: n.CACert, ClientCert: n.ClientCert, ClientKey: n.ClientKey,
			TLSServerName: n.TLSServerName,
		})
	}
	if cfg.Executor == "swarm" {
		w := cfg.Swarm
		return swarm.New(ctx, swarm.Config{
			Address: w.Address, Instance: w.Instance, StoreID: ident.ID, Logger: log.Named("swarm"),
			CPU: w.CPU, Memory: w.MemoryBytes, GPUResource: w.GPUResource, Constraints: w.Constraints,
			PidsLimit: w.PidsLimit, NNPHelper: w.NNPHelper,
			StartTimeout: w.StartTimeoutDuration, PollInterval: w.PollIntervalDuration,
		})
	}
	return docker.New(ctx, docker.Config{
		Address:      cfg.Docker.Address,
		Instance:     cfg.Docker.Instance,
		StoreID:      ident.ID,
		LegacyMaxJob: ident.LegacyMaxJob,
		Logger:       log.Named("docker"),
		CPU:          cfg.Docker.CPU,
		Memory:       cfg.Docker.MemoryBytes,
		GPUs:         cfg.Docker.GPUs,
	})
}
