package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/testlog"
)

// privateEngine is a dockerd of the test's own (own data and exec roots,
// socket, containerd and bridge), so that it can be stopped and started
// without touching the machine's engine or other tests' containers.
type privateEngine struct {
	t       *testing.T
	dir     string
	host    string // unix://...
	args    []string
	cmd     *exec.Cmd
	exited  chan struct{}
	log     testlog.Buffer
	restore bool
}

var engineSeq int

// startPrivateEngine starts a dockerd with live-restore on or off and
// loads the test image into it.
func startPrivateEngine(t *testing.T, liveRestore bool) *privateEngine {
	t.Helper()
	needEnv(t)
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skip("skipping: no dockerd binary to start a private engine")
	}
	// Short paths: containerd's socket lives under the exec root and unix
	// socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "gde")
	must.NoError(t, err)
	engineSeq++
	bridge := fmt.Sprintf("gde%d-%d", os.Getpid()%100000, engineSeq)
	subnet := fmt.Sprintf("10.%d.%d", 200+os.Getpid()%50, engineSeq%250)
	for _, args := range [][]string{
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", subnet + ".1/24", "dev", bridge},
		{"link", "set", bridge, "up"},
	} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		must.NoError(t, err, must.Sprintf("ip %v: %s", args, out))
	}
	e := &privateEngine{t: t, dir: dir, host: "unix://" + filepath.Join(dir, "d.sock"), restore: liveRestore}
	e.args = []string{
		"--host", e.host,
		"--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "d.pid"),
		"--bridge", bridge, "--iptables=false", "--ip-masq=false", "--ip6tables=false",
		"--storage-driver", "vfs", // small image; no overlay-on-overlay surprises
	}
	if liveRestore {
		e.args = append(e.args, "--live-restore")
	}
	t.Cleanup(func() {
		// With live-restore, containers would outlive their engine.
		if e.cmd != nil {
			out, _ := exec.Command("docker", "-H", e.host, "ps", "-aq").Output()
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				_ = exec.Command("docker", append([]string{"-H", e.host, "rm", "-f"}, ids...)...).Run()
			}
		}
		e.stop()
		_ = exec.Command("ip", "link", "del", bridge).Run()
		unmountUnder(dir) // dockerd leaves its data root bound on itself
		os.RemoveAll(dir)
		if t.Failed() {
			t.Logf("private dockerd log:\n%s", e.log.String())
		}
	})
	e.start()
	// No registry here: the image comes from the machine's engine.
	save := exec.Command("docker", "save", testImage)
	load := exec.Command("docker", "-H", e.host, "load")
	load.Stdin, _ = save.StdoutPipe()
	var loadOut bytes.Buffer
	load.Stdout, load.Stderr = &loadOut, &loadOut
	must.NoError(t, load.Start())
	must.NoError(t, save.Run())
	must.NoError(t, load.Wait(), must.Sprint(loadOut.String()))
	return e
}

func (e *privateEngine) start() {
	e.t.Helper()
	e.cmd = exec.Command("dockerd", e.args...)
	e.cmd.Stdout, e.cmd.Stderr = &e.log, &e.log
	// Its own process group: a signal to the test's group is not for it.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must.NoError(e.t, e.cmd.Start())
	e.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(e.cmd, e.exited)
	deadline := time.Now().Add(60 * time.Second)
	for exec.Command("docker", "-H", e.host, "info").Run() != nil {
		select {
		case <-e.exited:
			e.t.Fatalf("private dockerd exited:\n%s", e.log.String())
		default:
		}
		must.True(e.t, time.Now().Before(deadline), must.Sprintf("private dockerd did not answer:\n%s", e.log.String()))
		time.Sleep(200 * time.Millisecond)
	}
}

// stop stops dockerd as an operator does (SIGTERM): without live-restore
// it stops every container first.
func (e *privateEngine) stop() {
	if e.cmd == nil {
		return
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(60 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
	e.cmd = nil
}

// waitFile waits for a job's file to hold want.
func waitFile(t *testing.T, p *agentProc, id int64, name, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.jobFile(id, name), want) {
		must.True(t, time.Now().Before(deadline), must.Sprintf("job %d's %s never held %q", id, name, want))
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFault_DockerdRestart_LiveRestore: an engine with live-restore keeps
// its containers while it is down; a job that ends meanwhile keeps its own
// exit code, one still running keeps running, and neither runs twice.
func TestFault_DockerdRestart_LiveRestore(t *testing.T) {
	e := startPrivateEngine(t, true)
	p := startAgent(t, agentOpts{dockerHost: e.host})
	ends := p.submit(api.JobSpec{Name: "ends-while-down", Command: "echo run >> runs; while [ ! -e go ]; do sleep 0.1; done; touch done; exit 5", Retries: 1})
	lives := p.submit(api.JobSpec{Name: "outlives", Command: "echo run >> runs; while [ ! -e go ]; do sleep 0.1; done; exit 6", Retries: 1})
	waitFile(t, p, ends, "runs", "run")
	waitFile(t, p, lives, "runs", "run")
	p.waitRunning(ends)
	p.waitRunning(lives)

	e.stop()
	must.NoError(t, os.WriteFile(filepath.Join(p.shared, "jobs", fmt.Sprint(ends), "go"), nil, 0o644))
	waitFile(t, p, ends, "god.info", "exit=5") // it ended while the engine was down
	_, err := os.Stat(filepath.Join(p.shared, "jobs", fmt.Sprint(ends), "done"))
	must.NoError(t, err)
	e.start()

	j := p.waitOver(ends)
	must.Eq(t, 5, exitCode(j), must.Sprint(j.Status.Reason))
	must.Eq(t, "", j.Status.Secondary, must.Sprint(j.Status.Reason))
	must.Eq(t, 0, j.Retries)
	must.Eq(t, api.StateRunning, p.status(lives).Status.Primary)
	must.NoError(t, os.WriteFile(filepath.Join(p.shared, "jobs", fmt.Sprint(lives), "go"), nil, 0o644))
	j = p.waitOver(lives)
	must.Eq(t, 6, exitCode(j), must.Sprint(j.Status.Reason))
	must.Eq(t, 0, j.Retries)
	for _, id := range []int64{ends, lives} {
		must.Eq(t, "run\n", p.jobFile(id, "runs"), must.Sprintf("job %d ran once", id))
	}
}

// TestFault_DockerdRestart_NoLiveRestore: an engine without live-restore
// stops its containers when it stops. That SIGTERM is not the job's end:
// the job is lost and retried per its retries, never recorded with the
// engine's 143 or 137, and each run it made is a retry on its record.
func TestFault_DockerdRestart_NoLiveRestore(t *testing.T) {
	e := startPrivateEngine(t, false)
	p := startAgent(t, agentOpts{dockerHost: e.host, extra: "max_retries = 3\n"})
	// The first run waits to be stopped; the next ends by itself.
	id := p.submit(api.JobSpec{Name: "stopped-by-engine", Command: `echo run >> runs; if [ "$(wc -l < runs)" -ge 2 ]; then exit 7; fi; sleep 300`, Retries: 3})
	waitFile(t, p, id, "runs", "run")
	p.waitRunning(id)

	e.stop()
	j := p.status(id)
	must.Eq(t, api.StatePending, j.Status.Primary, must.Sprint(j.Status.Reason))
	must.Eq(t, api.SecondaryRescheduled, j.Status.Secondary)
	must.StrContains(t, j.Status.Reason, "from outside the job")
	must.StrContains(t, j.Status.Reason, "retry 1 of 3")
	e.start()

	j = p.waitOver(id)
	must.Eq(t, 7, exitCode(j), must.Sprint(j.Status.Reason))
	must.Eq(t, "", j.Status.Secondary, must.Sprint(j.Status.Reason))
	runs := strings.Count(p.jobFile(id, "runs"), "run")
	must.Eq(t, j.Retries+1, runs, must.Sprint("every run but the last was lost and retried"))
	must.Eq(t, 1, j.Retries, must.Sprint("the retry waits for the engine to be back"))
}

func (p *agentProc) status(id int64) *api.Job {
	p.t.Helper()
	j, err := p.client.Jobs().Info(context.Background(), id)
	must.NoError(p.t, err)
	return j
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			points = append(points, f[1])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}
