// Package agent is the GoDocker daemon: it accepts jobs over the HTTP API,
// stores them durably, orders them with a scheduler policy, dispatches them
// to an executor, follows them to the end and reconciles with the engine
// after a restart.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/agent/cluster"
	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/gateway"
	agenthttp "github.com/godocker/god/agent/http"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/agent/pin"
	"github.com/godocker/god/agent/token"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/auth"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/store"
)

// Agent is one GoDocker daemon.
type Agent struct {
	cfg      *config.Config
	log      hclog.Logger
	schedLog hclog.Logger // scheduling cycles and dispatch
	watchLog hclog.Logger // engine events, reconciliation, job ends
	store    store.Store
	exec     executor.Executor
	sessions *gateway.Gateway
	policy   scheduler.Scheduler
	users    *identity.Cache
	// rec keeps accounts, projects, revoked tokens and the audit log.
	rec            store.Records
	signer         *token.Signer
	authenticators []auth.Authenticator
	accts          accountCache
	projs          recordCache[api.Project]
	prios          priorityCache
	vols           recordCache[config.Volume]
	logins         loginLimiter
	guests         *guestSettings // nil unless guests may log in
	// auditq queues the audit entries of accepted submits while the agent
	// runs (nil otherwise: entries are written at once).
	auditq      chan *api.AuditEntry
	guestLogins guestLogins

	// wake asks the scheduler for a cycle; a buffer of one coalesces bursts.
	wake    chan struct{}
	changes *broadcaster

	mu    sync.Mutex
	queue map[int64]*job.Job // pending jobs, in step with the store
	// pendingByUID counts the queue per user, for rate limits.
	pendingByUID map[int]int
	reserved     map[int64]reservation // running or being dispatched
	used         executor.Capacity     // sum of reserved
	// arrayActive counts the running or dispatching tasks of each array
	// (for throttles); arrayLeft the tasks not over yet.
	arrayActive map[int64]int
	arrayLeft   map[int64]int
	// userUse and projectUse are what each user and project run now, for
	// quotas; window is their core-hours over the quota window.
	userUse    map[int]userUse
	projectUse map[string]userUse
	window     *usageWindow
	runtimes   runtimes // for start-time estimates
	// ledger is the decayed usage per user, for fair share.
	ledger *ledger
	// deadlines are when running jobs reach their max lifespan;
	// killDeadlines when stopped jobs get SIGKILL (see stopUntil).
	deadlines     map[int64]time.Time
	killDeadlines map[int64]time.Time
	backoff       map[int64]time.Time // pending jobs whose last dispatch failed
	capacity      executor.Capacity
	capAt         time.Time

	// cluster is set when the agent is one of several (nil: it leads alone).
	clustered

	// passMu makes scheduling passes one at a time; they reuse passCands
	// and passPending.
	passMu      sync.Mutex
	passCands   []*job.Job
	passPending []scheduler.Job

	dispatching sync.WaitGroup
	finalizing  sync.Map  // job id -> struct{}: one finalize at a time per job
	foreign     sync.Map  // container id -> struct{}: containers of another user, reported once
	pins        *pin.Root // staging mounts of user paths (root agents only)
	startedAt   time.Time
}

// Options wire the agent's parts; tests and benchmarks pass their own.
type Options struct {
	Store     store.Store
	Executor  executor.Executor
	Scheduler scheduler.Scheduler
	Logger    hclog.Logger
	// Authenticators replace the login methods built from the config.
	Authenticators []auth.Authenticator
	// Cluster makes the agent one of several sharing Store, which must be
	// a store.Fencer: it leads (schedules) only while Consul elects it.
	Cluster *cluster.Cluster
}

// resetState empties what the agent keeps in memory about jobs: at start,
// and when it is elected leader of a cluster (what it kept before may be
// stale: it reloads everything from the store).
func (a *Agent) resetState() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queue = map[int64]*job.Job{}
	a.pendingByUID = map[int]int{}
	a.reserved = map[int64]reservation{}
	a.used = executor.Capacity{}
	a.arrayActive = map[int64]int{}
	a.arrayLeft = map[int64]int{}
	a.deadlines = map[int64]time.Time{}
	a.killDeadlines = map[int64]time.Time{}
	a.userUse = map[int]userUse{}
	a.projectUse = map[string]userUse{}
	a.window = newUsageWindow(a.cfg.Quota.WindowDuration)
	a.runtimes = runtimes{byUID: map[int]float64{}}
	a.ledger = newLedger(a.cfg.Scheduler.HalfLifeDuration, *a.cfg.Scheduler.MemoryWeight, *a.cfg.Scheduler.GPUWeight)
	a.backoff = map[int64]time.Time{}
	a.capacity, a.capAt = executor.Capacity{}, time.Time{}
}

// New builds an agent from a finalized config and its parts.
func New(cfg *config.Config, o Options) (*Agent, error) {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	a := &Agent{
		cfg:       cfg,
		log:       o.Logger,
		schedLog:  o.Logger.Named("scheduler"),
		watchLog:  o.Logger.Named("watcher"),
		store:     o.Store,
		exec:      o.Executor,
		policy:    o.Scheduler,
		users:     identity.NewCache(time.Minute),
		wake:      make(chan struct{}, 1),
		changes:   newBroadcaster(),
		startedAt: time.Now(),
		accts:     accountCache{m: map[string]cachedAccount{}},
		prios:     priorityCache{m: map[string]cachedPriority{}},
		projs:     recordCache[api.Project]{kind: store.KindProject},
		vols:      recordCache[config.Volume]{kind: store.KindVolume},
		logins:    loginLimiter{m: map[string]loginFailures{}},
	}
	a.sessions = &gateway.Gateway{MaxPerJob: 4, IdleTimeout: time.Hour}
	if ss := cfg.Sessions; ss != nil && ss.MaxPerJob > 0 {
		a.sessions = &gateway.Gateway{MaxPerJob: ss.MaxPerJob, IdleTimeout: ss.Idle}
	}
	a.resetState()
	rec, ok := o.Store.(store.Records)
	if !ok {
		return nil, fmt.Errorf("the job store %T cannot keep accounts (store.Records)", o.Store)
	}
	a.rec = rec
	if o.Cluster != nil {
		if err := a.joinCluster(o); err != nil {
			return nil, err
		}
	}
	if err := a.prepareSharedDir(); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		// An agent that is not root runs jobs of its own user only: no
		// one else could swap its paths.
		var err error
		if a.pins, err = pin.Open(filepath.Join(cfg.DataDir, "pins")); err != nil {
			return nil, err
		}
	}
	if err := a.initSigner(context.Background()); err != nil {
		return nil, fmt.Errorf("loading the token signing key: %w", err)
	}
	a.authenticators = o.Authenticators
	if a.authenticators == nil {
		var err error
		if a.authenticators, err = buildAuthenticators(cfg, o.Logger); err != nil {
			return nil, err
		}
	}
	var err error
	if a.guests, err = guestConfig(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// Run serves the API and runs the scheduler and watcher until ctx ends, then
// stops gracefully: running containers keep running and are adopted by the
// next start.
func (a *Agent) Run(ctx context.Context) error {
	// Listen first: a second agent on the same socket fails here, before
	// it touches any job.
	listeners, err := a.listen()
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	if a.cluster == nil {
		if err := a.load(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopped while starting
			}
			return err
		}
	}
	a.auditq = make(chan *api.AuditEntry, 4096)
	auditDone := make(chan struct{})
	go func() { a.auditWriter(a.auditq); close(auditDone) }()
	srv := agenthttp.New(a, a.log.Named("http"))
	if a.cluster != nil {
		srv.Handler = a.forwarding(srv.Handler)
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			var err error
			if _, tcp := l.(*net.TCPListener); tcp && a.cfg.HTTP.TLSCert != "" {
				err = srv.ServeTLS(l, a.cfg.HTTP.TLSCert, a.cfg.HTTP.TLSKey)
			} else {
				err = srv.Serve(l)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	loops, stopLoops := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if a.cluster == nil {
		a.startLoops(loops, &wg)
	} else {
		wg.Go(func() { a.runCluster(loops) })
	}

	select {
	case <-ctx.Done():
	case err = <-errc:
		a.log.Error("http server failed", "error", err)
	}
	a.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if srv.Shutdown(shutdownCtx) == nil {
		// No request is being served any more: write what is queued.
		close(a.auditq)
		<-auditDone
	}
	stopLoops()
	wg.Wait()
	a.dispatching.Wait()
	if a.cfg.Socket != "" {
		_ = os.Remove(a.cfg.Socket)
	}
	return err
}

// load reads what the agent keeps in memory from the store and brings the
// store and the engine into agreement.
func (a *Agent) load(ctx context.Context) error {
	if err := a.loadLedger(ctx); err != nil {
		return fmt.Errorf("loading the usage ledger: %w", err)
	}
	if err := a.loadQueue(ctx); err != nil {
		return fmt.Errorf("loading pending jobs: %w", err)
	}
	if err := a.reconcile(ctx); err != nil {
		return fmt.Errorf("reconciling with the %s engine: %w", a.exec.Name(), err)
	}
	if err := a.loadArrays(ctx); err != nil {
		return fmt.Errorf("loading arrays: %w", err)
	}
	return nil
}

// startLoops starts what schedules and follows jobs, until ctx ends.
func (a *Agent) startLoops(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { a.schedulerLoop(ctx) })
	wg.Go(func() { a.watchLoop(ctx) })
	wg.Go(func() { a.lifespanLoop(ctx) })
	wg.Go(func() { a.archiveLoop(ctx) })
	a.Wake()
}

func (a *Agent) listen() ([]net.Listener, error) {
	var out []net.Listener
	if err := os.MkdirAll(filepath.Dir(a.cfg.Socket), 0o755); err != nil {
		return nil, fmt.Errorf("creating socket dir: %w", err)
	}
	// A socket left by a crashed agent is removed; a live one is not stolen.
	if c, err := net.DialTimeout("unix", a.cfg.Socket, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another agent is already listening on %s", a.cfg.Socket)
	}
	_ = os.Remove(a.cfg.Socket)
	ul, err := net.Listen("unix", a.cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", a.cfg.Socket, err)
	}
	// Every local user may connect: the kernel tells us who they are, and
	// the socket gives them no rights beyond their own jobs.
	if err := os.Chmod(a.cfg.Socket, 0o666); err != nil {
		ul.Close()
		return nil, err
	}
	out = append(out, ul)
	a.log.Info("api listening", "socket", a.cfg.Socket)
	if a.cfg.HTTP.Enabled {
		if h := a.cfg.HTTP; h.TLSCert != "" {
			// Fail now, with the file named, not in the server's goroutine.
			if _, err := tls.LoadX509KeyPair(h.TLSCert, h.TLSKey); err != nil {
				ul.Close()
				return nil, fmt.Errorf("http.tls_cert / http.tls_key: %w", err)
			}
		}
		addr := net.JoinHostPort(a.cfg.HTTP.Address, strconv.Itoa(a.cfg.HTTP.Port))
		tl, err := net.Listen("tcp", addr)
		if err != nil {
			ul.Close()
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		out = append(out, tl)
		if a.cfg.Dev {
			a.log.Warn("dev mode: loopback callers without a token are identified by the kernel's socket table", "address", "http://"+addr)
		} else {
			a.log.Info("api listening", "address", publicURL(a.cfg), "tls", a.cfg.HTTP.TLSCert != "")
		}
	}
	return out, nil
}

// Wake asks for a scheduling cycle.
func (a *Agent) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}
