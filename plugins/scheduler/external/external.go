// Package external runs a scheduler policy that lives in another binary,
// started and spoken to with hashicorp/go-plugin over gRPC, behind the same
// scheduler.Scheduler interface as the built-in policies.
//
// A plugin cannot stop the agent from scheduling: when it has crashed, hung
// past the timeout, failed, or answered with anything but each pending job
// exactly once, that cycle uses the fallback policy's order and an error
// names the plugin and the problem. A crashed or hung plugin is killed and
// started again on a later cycle, after a backoff if it keeps failing.
package external

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/plugin"
	"github.com/godocker/god/plugins/scheduler/proto"
)

// DefaultTimeout bounds one Order call, and Info and Configure at start.
const DefaultTimeout = 5 * time.Second

// startTimeout bounds the plugin's start-up until its handshake line.
const startTimeout = 10 * time.Second

// maxBackoff caps the wait between restarts of a plugin that keeps failing.
const maxBackoff = time.Minute

// ErrClosed is returned by Order after Close.
var ErrClosed = errors.New("scheduler plugin closed")

// Option changes how New runs a plugin.
type Option func(*Scheduler)

// WithTimeout bounds each call to the plugin (DefaultTimeout if d <= 0).
// A plugin that does not answer Order in time is killed.
func WithTimeout(d time.Duration) Option {
	return func(s *Scheduler) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithSHA256 makes every start of the plugin check that the binary's
// SHA-256 is sum, so that a replaced binary is refused.
func WithSHA256(sum []byte) Option {
	return func(s *Scheduler) { s.checksum = sum }
}

// Scheduler is a policy served by a plugin binary. It is safe for
// concurrent use.
type Scheduler struct {
	log      hclog.Logger
	path     string
	config   map[string]string
	fallback scheduler.Scheduler
	timeout  time.Duration
	checksum []byte // SHA-256 of the binary, if checked
	name     string // as the plugin's Info said at the first start

	mu       sync.Mutex
	proc     *process // nil when not running
	closed   bool
	failures int       // consecutive crashes, hangs and failed starts
	retryAt  time.Time // no restart before
}

var _ scheduler.Scheduler = (*Scheduler)(nil)

// process is one run of the plugin binary.
type process struct {
	client *goplugin.Client
	cmd    *exec.Cmd
	rpc    proto.SchedulerClient
	name   string
}

// New starts the plugin at path, checks its protocol and passes it config.
// Any failure there is returned, so that a broken set-up stops the agent
// at start; later failures fall back to fallback's order, cycle by cycle.
func New(logger hclog.Logger, path string, config map[string]string, fallback scheduler.Scheduler, opts ...Option) (*Scheduler, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if fallback == nil {
		return nil, errors.New("scheduler plugin: a fallback policy is required")
	}
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("scheduler plugin: %w", err)
	} else if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("scheduler plugin %s is not an executable file", path)
	}
	s := &Scheduler{
		log:      logger,
		path:     path,
		config:   config,
		fallback: fallback,
		timeout:  DefaultTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	p, err := s.start()
	if err != nil {
		return nil, err
	}
	s.proc, s.name = p, p.name
	return s, nil
}

// Name is the policy's name, as the plugin gives it.
func (s *Scheduler) Name() string { return s.name }

// Order implements scheduler.Scheduler. It returns an error only when ctx
// ends or after Close; every plugin failure gives the fallback's order.
func (s *Scheduler) Order(ctx context.Context, snap *scheduler.Snapshot) ([]scheduler.Decision, error) {
	p, err := s.running()
	if errors.Is(err, ErrClosed) {
		return nil, err
	}
	if err != nil {
		return s.bypass(ctx, snap, err.Error())
	}
	// gRPC may report a deadline before the context's own timer fires, so
	// whose deadline passed is read from the deadlines.
	callerDeadline, ok := ctx.Deadline()
	callerFirst := ok && callerDeadline.Before(time.Now().Add(s.timeout))
	callCtx, cancel := context.WithTimeout(ctx, s.timeout)
	m, err := p.rpc.Order(callCtx, proto.EncodeSnapshot(snap))
	cancel()
	if err != nil {
		timedOut := status.Code(err) == codes.DeadlineExceeded
		if ctx.Err() != nil || timedOut && callerFirst {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		switch {
		case timedOut:
			s.fail(p)
			return s.bypass(ctx, snap, fmt.Sprintf("no answer within %s; killed it, it restarts on a later cycle", s.timeout))
		case status.Code(err) == codes.Unavailable || p.client.Exited():
			s.fail(p)
			return s.bypass(ctx, snap, fmt.Sprintf("it exited or dropped the connection (%s); it restarts on a later cycle", status.Convert(err).Message()))
		default:
			return s.bypass(ctx, snap, fmt.Sprintf("it failed: %s", status.Convert(err).Message()))
		}
	}
	ds, err := proto.DecodeDecisions(m)
	if err == nil {
		err = checkOrder(snap.Pending, ds)
	}
	if err != nil {
		return s.bypass(ctx, snap, fmt.Sprintf("its answer is invalid: %s", err))
	}
	s.mu.Lock()
	if s.proc == p {
		s.failures = 0
	}
	s.mu.Unlock()
	return ds, nil
}

// Close stops the plugin. Order then returns ErrClosed.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	p := s.proc
	s.proc, s.closed = nil, true
	s.mu.Unlock()
	if p != nil {
		p.stop(false)
	}
	return nil
}

// bypass logs why the plugin's order is not used and returns the
// fallback's.
func (s *Scheduler) bypass(ctx context.Context, snap *scheduler.Snapshot, problem string) ([]scheduler.Decision, error) {
	s.log.Error("scheduler plugin bypassed: using the fallback order for this cycle",
		"plugin", s.name, "path", s.path, "problem", problem, "fallback", s.fallback.Name())
	ds, err := s.fallback.Order(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("plugin %s bypassed (%s), and fallback %s failed: %w", s.name, problem, s.fallback.Name(), err)
	}
	return ds, nil
}

// running returns the plugin process, starting it again if it died and its
// backoff has passed.
func (s *Scheduler) running() (*process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrClosed
	case s.proc != nil:
		return s.proc, nil
	}
	if wait := time.Until(s.retryAt); wait > 0 {
		return nil, fmt.Errorf("it is not running after %d failure(s); next restart in %s", s.failures, wait.Round(time.Millisecond))
	}
	p, err := s.start()
	if err != nil {
		s.failed()
		return nil, fmt.Errorf("restarting it failed: %w", err)
	}
	s.log.Info("scheduler plugin restarted", "plugin", s.name, "path", s.path, "pid", p.cmd.Process.Pid)
	s.proc = p
	return p, nil
}

// fail kills a plugin that crashed or hung, and schedules its restart.
func (s *Scheduler) fail(p *process) {
	s.mu.Lock()
	if s.proc == p {
		s.proc = nil
		s.failed()
	}
	s.mu.Unlock()
	p.stop(true)
}

// failed counts a failure and sets when the next start may happen: on the
// next cycle after a first failure, then after 1s, 2s, 4s... up to a minute.
func (s *Scheduler) failed() {
	s.failures++
	wait := time.Duration(0)
	if s.failures > 1 {
		wait = min(time.Second<<min(s.failures-2, 16), maxBackoff)
	}
	s.retryAt = time.Now().Add(wait)
}

// start launches the binary, then checks Info and passes the config.
func (s *Scheduler) start() (*process, error) {
	cmd := exec.Command(s.path)
	// The agent's environment may hold secrets; a plugin gets what a
	// program needs to run and its configuration through Configure.
	cmd.Env = pluginEnv()
	var secure *goplugin.SecureConfig
	if s.checksum != nil {
		secure = &goplugin.SecureConfig{Checksum: s.checksum, Hash: sha256.New()}
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		SecureConfig:     secure,
		HandshakeConfig:  plugin.Handshake,
		Plugins:          goplugin.PluginSet{plugin.Name: &plugin.GRPCPlugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     startTimeout,
		Logger:           s.log.Named("plugin").With("path", s.path),
		GRPCDialOptions:  plugin.DialOptions,
	})
	p := &process{client: client, cmd: cmd}
	fail := func(format string, a ...any) (*process, error) {
		p.stop(true)
		return nil, fmt.Errorf("scheduler plugin %s: "+format, append([]any{s.path}, a...)...)
	}
	rpcClient, err := client.Client()
	if err != nil {
		return fail("starting: %w", err)
	}
	raw, err := rpcClient.Dispense(plugin.Name)
	if err != nil {
		return fail("%w", err)
	}
	p.rpc = raw.(proto.SchedulerClient)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	info, err := p.rpc.Info(ctx, &proto.InfoRequest{})
	if err != nil {
		return fail("Info: %s", status.Convert(err).Message())
	}
	if v := info.GetProtocolVersion(); v != proto.ProtocolVersion {
		return fail("it speaks scheduler protocol %d, this agent speaks %d", v, proto.ProtocolVersion)
	}
	if info.GetName() == "" {
		return fail("Info gave no policy name")
	}
	if _, err := p.rpc.Configure(ctx, &proto.ConfigureRequest{Config: s.config}); err != nil {
		return fail("configuring it: %s", status.Convert(err).Message())
	}
	p.name = info.GetName()
	return p, nil
}

// pluginEnv is the agent's PATH, TMPDIR, TZ, locale and Go runtime
// settings (GOGC, GOMEMLIMIT, GOMAXPROCS, GODEBUG), nothing else.
func pluginEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "TMPDIR", "TZ", "LANG", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG":
			env = append(env, kv)
		default:
			if strings.HasPrefix(k, "LC_") {
				env = append(env, kv)
			}
		}
	}
	return env
}

// stop ends the process. A hung plugin may not answer go-plugin's polite
// shutdown, so force kills it first.
func (p *process) stop(force bool) {
	if force && p.cmd.Process != nil {
		// os.Process is safe against pid reuse once the process is reaped.
		_ = p.cmd.Process.Kill()
	}
	done := make(chan struct{})
	go func() {
		p.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		if p.cmd.Process != nil {
			_ = p.cmd.Process.Kill()
		}
		<-done
	}
}

// checkOrder checks that ds has each pending job exactly once.
func checkOrder(pending []scheduler.Job, ds []scheduler.Decision) error {
	var unknown, twice, missing []int64
	if len(pending) == 0 {
		unknown = idsOf(ds)
	} else {
		unknown, twice, missing = newIDSet(pending).check(ds)
	}
	var problems []string
	add := func(what string, ids []int64) {
		if len(ids) > 0 {
			problems = append(problems, fmt.Sprintf("%d %s (%s)", len(ids), what, someIDs(ids)))
		}
	}
	add("unknown job id(s)", unknown)
	add("job id(s) given twice", twice)
	add("pending job(s) left out", missing)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, ", "))
	}
	return nil
}

// idSet marks the pending jobs as they are ordered. Job ids are allocated
// in sequence, so the pending ones usually span a range not much larger
// than their number: a slice over the range is then much cheaper than a
// map.
type idSet struct {
	pending []scheduler.Job
	min     int64
	dense   []uint8 // by id-min: 0 not pending, 1 pending, 2 ordered
	byID    map[int64]bool
}

func newIDSet(pending []scheduler.Job) *idSet {
	s := &idSet{pending: pending, min: pending[0].ID}
	hi := pending[0].ID
	for _, j := range pending {
		s.min, hi = min(s.min, j.ID), max(hi, j.ID)
	}
	if span := uint64(hi - s.min); span < 4*uint64(len(pending))+64 {
		s.dense = make([]uint8, span+1)
		for _, j := range pending {
			s.dense[j.ID-s.min] = 1
		}
		return s
	}
	s.byID = make(map[int64]bool, len(pending))
	for _, j := range pending {
		s.byID[j.ID] = false
	}
	return s
}

func (s *idSet) check(ds []scheduler.Decision) (unknown, twice, missing []int64) {
	ordered := 0
	for _, d := range ds {
		var state uint8 // as in dense
		if s.dense != nil {
			if off := uint64(d.JobID - s.min); off < uint64(len(s.dense)) {
				state = s.dense[off]
				s.dense[off] = 2
			}
		} else if done, ok := s.byID[d.JobID]; ok {
			state = 1
			if done {
				state = 2
			}
			s.byID[d.JobID] = true
		}
		switch state {
		case 0:
			unknown = append(unknown, d.JobID)
		case 1:
			ordered++
		case 2:
			twice = append(twice, d.JobID)
		}
	}
	if ordered == len(s.pending) {
		return unknown, twice, nil
	}
	for _, j := range s.pending {
		if s.dense != nil && s.dense[j.ID-s.min] == 1 || s.dense == nil && !s.byID[j.ID] {
			missing = append(missing, j.ID)
		}
	}
	return unknown, twice, missing
}

func idsOf(ds []scheduler.Decision) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.JobID
	}
	return out
}

// someIDs lists the first few ids.
func someIDs(ids []int64) string {
	const most = 5
	var b strings.Builder
	for i, id := range ids[:min(len(ids), most)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, id)
	}
	if len(ids) > most {
		fmt.Fprintf(&b, " and %d more", len(ids)-most)
	}
	return b.String()
}
