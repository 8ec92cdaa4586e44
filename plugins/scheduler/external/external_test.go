package external

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"
	"github.com/shoenig/test/wait"
	"pgregory.net/rapid"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/fifo"
)

var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "god-scheduler-plugins-")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var builds sync.Map // package dir -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// BuildPlugin builds the main package in pkgDir (relative to this package)
// once per test binary, with the go command that runs the tests.
func buildPlugin(tb testing.TB, pkgDir string) string {
	tb.Helper()
	v, _ := builds.LoadOrStore(pkgDir, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		r.path = filepath.Join(buildDir, "god-scheduler-"+filepath.Base(pkgDir))
		cmd := exec.Command(goTool(), "build", "-o", r.path, pkgDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			r.err = errors.New(err.Error() + ": " + string(out))
		}
	})
	must.NoError(tb, r.err, must.Sprint("building plugin ", pkgDir))
	return r.path
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// logBuffer collects what the scheduler logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (hclog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: buf}), buf
}

// startTest starts the test plugin with config and closes it at the end.
func startTest(t *testing.T, config map[string]string, opts ...Option) (*Scheduler, *logBuffer) {
	t.Helper()
	log, buf := newLogger()
	s, err := New(log, buildPlugin(t, "./testdata/testplugin"), config, fifo.Scheduler{}, opts...)
	must.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, buf
}

func snapshot(n int) *scheduler.Snapshot {
	s := &scheduler.Snapshot{Now: time.Now()}
	for i := range n {
		s.Pending = append(s.Pending, scheduler.Job{
			ID: int64(100 + i), UID: 1000 + i%3, User: []string{"alice", "bob", "carol"}[i%3],
			Submitted: time.Unix(1_700_000_000+int64(i), 0), CPU: 1, Memory: 1 << 30,
			Project: "p" + string(rune('a'+i%2)), Group: "staff", Priority: 50, GPU: i % 2,
		})
	}
	return s
}

func ids(ds []scheduler.Decision) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.JobID
	}
	return out
}

func fifoIDs(snap *scheduler.Snapshot) []int64 {
	ds, _ := fifo.Scheduler{}.Order(context.Background(), snap)
	return ids(ds)
}

func reverseIDs(snap *scheduler.Snapshot) []int64 {
	out := fifoIDs(snap)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func pid(s *Scheduler) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestOrder_usesThePluginsOrder(t *testing.T) {
	s, _ := startTest(t, nil)
	must.Eq(t, "testplugin", s.Name())
	snap := snapshot(7)
	ds, err := s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, reverseIDs(snap), ids(ds))
	// Every job field crossed the wire: the plugin's reasons quote them.
	must.StrContains(t, ds[0].Reason, "user alice project pa group staff priority 50 gpu 0")
	must.StrContains(t, ds[1].Reason, "user carol project pb group staff priority 50 gpu 1")

	ds, err = s.Order(context.Background(), &scheduler.Snapshot{})
	must.NoError(t, err)
	must.SliceEmpty(t, ds)
}

func TestOrder_configSelectsThePolicy(t *testing.T) {
	s, _ := startTest(t, map[string]string{"policy": "fifo"})
	must.Eq(t, "testplugin", s.Name())
	snap := snapshot(5)
	ds, err := s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, fifoIDs(snap), ids(ds))
	must.Eq(t, "first in, first out", ds[0].Reason)
}

// A plugin whose answer is not each pending job exactly once is bypassed
// for that cycle, with an error naming it and the problem, and stays up.
func TestOrder_invalidAnswersFallBack(t *testing.T) {
	for fail, problem := range map[string]string{
		"duplicate": "1 job id(s) given twice (106)",
		"unknown":   "1 unknown job id(s) (999999)",
		"missing":   "1 pending job(s) left out (106)",
		"error":     "it failed: the policy's database is down",
	} {
		t.Run(fail, func(t *testing.T) {
			s, logs := startTest(t, map[string]string{"fail": fail})
			before := pid(s)
			snap := snapshot(7)
			for range 2 {
				ds, err := s.Order(context.Background(), snap)
				must.NoError(t, err)
				must.Eq(t, fifoIDs(snap), ids(ds))
			}
			must.StrContains(t, logs.String(), "scheduler plugin bypassed")
			must.StrContains(t, logs.String(), "plugin=testplugin")
			must.StrContains(t, logs.String(), problem)
			must.StrContains(t, logs.String(), "fallback=fifo")
			must.Eq(t, before, pid(s), must.Sprint("a plugin that answers is not restarted"))
		})
	}
}

// A plugin that exits is bypassed for that cycle and started again on the
// next.
func TestOrder_crashedPluginRestarts(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "crashed")
	s, logs := startTest(t, map[string]string{"fail": "exit-once", "marker": marker})
	first := pid(s)
	snap := snapshot(9)

	ds, err := s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, fifoIDs(snap), ids(ds))
	must.StrContains(t, logs.String(), "it exited or dropped the connection")
	must.Eq(t, 0, pid(s))
	must.False(t, alive(first))

	ds, err = s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, reverseIDs(snap), ids(ds))
	must.StrContains(t, logs.String(), "scheduler plugin restarted")
	must.NotEq(t, first, pid(s))
}

// A plugin that keeps crashing is restarted on the next cycle, then after
// a growing backoff; meanwhile every cycle gets the fallback's order.
func TestOrder_crashLoopBacksOff(t *testing.T) {
	s, logs := startTest(t, map[string]string{"fail": "exit"})
	snap := snapshot(4)
	for range 3 {
		ds, err := s.Order(context.Background(), snap)
		must.NoError(t, err)
		must.Eq(t, fifoIDs(snap), ids(ds))
	}
	// Crash (failure 1), restart and crash (failure 2), then a 1s backoff.
	must.Eq(t, 1, strings.Count(logs.String(), "scheduler plugin restarted"))
	must.StrContains(t, logs.String(), "it is not running after 2 failure(s); next restart in")
	s.mu.Lock()
	must.Eq(t, 2, s.failures)
	must.True(t, s.retryAt.After(time.Now()))
	s.mu.Unlock()
}

// A plugin that does not answer within the timeout is killed, bypassed,
// and restarted on the next cycle.
func TestOrder_hungPluginIsKilled(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "hung")
	s, logs := startTest(t, map[string]string{"fail": "hang-once", "marker": marker}, WithTimeout(300*time.Millisecond))
	first := pid(s)
	snap := snapshot(6)
	ds, err := s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, fifoIDs(snap), ids(ds))
	must.StrContains(t, logs.String(), "no answer within 300ms; killed it")
	must.False(t, alive(first))

	ds, err = s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, reverseIDs(snap), ids(ds))
	must.StrContains(t, logs.String(), "scheduler plugin restarted")
	must.NotEq(t, 0, pid(s))
	must.NotEq(t, first, pid(s))
}

// The agent stopping mid-call is not the plugin's failure.
func TestOrder_callerCancels(t *testing.T) {
	s, logs := startTest(t, map[string]string{"fail": "hang"}, WithTimeout(time.Minute))
	first := pid(s)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := s.Order(ctx, snapshot(3))
	must.ErrorIs(t, err, context.DeadlineExceeded)
	must.StrNotContains(t, logs.String(), "bypassed")
	must.Eq(t, first, pid(s))
}

func TestClose_killsThePlugin(t *testing.T) {
	s, _ := startTest(t, nil)
	p := pid(s)
	must.True(t, alive(p))
	must.NoError(t, s.Close())
	must.Wait(t, wait.InitialSuccess(
		wait.BoolFunc(func() bool { return !alive(p) }),
		wait.Timeout(5*time.Second), wait.Gap(20*time.Millisecond)))
	_, err := s.Order(context.Background(), snapshot(2))
	must.ErrorIs(t, err, ErrClosed)
	must.NoError(t, s.Close())
}

func TestNew_errors(t *testing.T) {
	log, _ := newLogger()
	plugin := buildPlugin(t, "./testdata/testplugin")

	_, err := New(log, filepath.Join(t.TempDir(), "god-scheduler-nope"), nil, fifo.Scheduler{})
	must.ErrorContains(t, err, "god-scheduler-nope: no such file or directory")

	_, err = New(log, plugin, map[string]string{"config-error": `"weights" must be a list of numbers`}, fifo.Scheduler{})
	must.ErrorContains(t, err, `configuring it: "weights" must be a list of numbers`)

	// Not a plugin: it never prints the handshake.
	notPlugin := filepath.Join(t.TempDir(), "not-a-plugin")
	must.NoError(t, os.WriteFile(notPlugin, []byte("#!/bin/sh\necho hello\n"), 0o755))
	_, err = New(log, notPlugin, nil, fifo.Scheduler{})
	must.ErrorContains(t, err, "starting")

	_, err = New(log, plugin, nil, nil)
	must.ErrorContains(t, err, "fallback")
}

// With a checksum, a binary that is not the expected one does not start.
func TestNew_checksum(t *testing.T) {
	log, _ := newLogger()
	path := buildPlugin(t, "./testdata/testplugin")
	bin, err := os.ReadFile(path)
	must.NoError(t, err)
	sum := sha256.Sum256(bin)
	s, err := New(log, path, nil, fifo.Scheduler{}, WithSHA256(sum[:]))
	must.NoError(t, err)
	must.NoError(t, s.Close())

	sum[0]++
	_, err = New(log, path, nil, fifo.Scheduler{}, WithSHA256(sum[:]))
	must.ErrorContains(t, err, "checksums did not match")
}

// A plugin that takes no configuration refuses a config map rather than
// ignoring it.
func TestNew_unconfigurablePluginRefusesConfig(t *testing.T) {
	log, _ := newLogger()
	path := buildPlugin(t, "../example/smallest-first")
	_, err := New(log, path, map[string]string{"weights": "1,2"}, fifo.Scheduler{})
	must.ErrorContains(t, err, "the smallest-first policy takes no configuration")
}

// The plugin gets no secrets from the agent's environment.
func TestPluginEnv(t *testing.T) {
	t.Setenv("GOD_TEST_SECRET", "hunter2")
	t.Setenv("LC_ALL", "C")
	env := strings.Join(pluginEnv(), "\n")
	must.StrNotContains(t, env, "hunter2")
	must.StrContains(t, env, "LC_ALL=C")
}

func TestCheckOrder(t *testing.T) {
	pending := snapshot(3).Pending // ids 100, 101, 102
	d := func(ids ...int64) []scheduler.Decision {
		var out []scheduler.Decision
		for _, id := range ids {
			out = append(out, scheduler.Decision{JobID: id})
		}
		return out
	}
	must.NoError(t, checkOrder(pending, d(102, 100, 101)))
	must.EqError(t, checkOrder(pending, d(102, 100)), "1 pending job(s) left out (101)")
	must.EqError(t, checkOrder(pending, d(102, 100, 101, 100)), "1 job id(s) given twice (100)")
	must.EqError(t, checkOrder(pending, d(102, 100, 7, 100)),
		"1 unknown job id(s) (7), 1 job id(s) given twice (100), 1 pending job(s) left out (101)")
	must.EqError(t, checkOrder(nil, d(1, 2, 3, 4, 5, 6, 7)), "7 unknown job id(s) (1, 2, 3, 4, 5 and 2 more)")
	must.NoError(t, checkOrder(nil, nil))
}

// checkOrder agrees with the obvious count of each id, over dense and
// sparse ids alike.
func TestCheckOrder_property(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := rapid.SampledFrom([]int64{0, 1, -5, 1 << 40, math.MaxInt64 - 1000, math.MinInt64}).Draw(t, "base")
		spread := rapid.SampledFrom([]int64{1, 3, 1 << 20}).Draw(t, "spread")
		id := rapid.Custom(func(t *rapid.T) int64 { return base + spread*rapid.Int64Range(0, 200).Draw(t, "off") })
		var pending []scheduler.Job
		for _, v := range rapid.SliceOfDistinct(id, func(v int64) int64 { return v }).Draw(t, "pending") {
			pending = append(pending, scheduler.Job{ID: v})
		}
		var ds []scheduler.Decision
		for _, v := range rapid.SliceOf(id).Draw(t, "order") {
			ds = append(ds, scheduler.Decision{JobID: v})
		}
		count := map[int64]int{}
		for _, d := range ds {
			count[d.JobID]++
		}
		valid := len(ds) == len(pending)
		for _, j := range pending {
			valid = valid && count[j.ID] == 1
		}
		err := checkOrder(pending, ds)
		must.Eq(t, valid, err == nil, must.Sprint(err))
	})
}

// Concurrent cycles (a scheduling pass and `god job why`) while the plugin
// crashes and restarts each get a complete order.
func TestOrder_concurrentCallsAcrossACrash(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "crashed")
	s, _ := startTest(t, map[string]string{"fail": "exit-once", "marker": marker})
	snap := snapshot(50)
	var wg sync.WaitGroup
	errs := make(chan error, 8*5)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				ds, err := s.Order(context.Background(), snap)
				if err == nil {
					err = checkOrder(snap.Pending, ds)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must.NoError(t, err)
	}
	ds, err := s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, reverseIDs(snap), ids(ds), must.Sprint("the restarted plugin answers"))
}
