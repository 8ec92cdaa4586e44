// Package e2e tests the built god binary as users and operators use it: the
// agent as a separate process (killed with SIGKILL to prove recovery), the
// CLI run as different Unix users against the real Docker engine.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/testlog"
)

const testImage = "godocker/bash:local"

// godBin is the agent and CLI as users get them; godFaultBin the same
// built with -tags failpoints, which crashes where GOD_FAILPOINT says.
var godBin, godFaultBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "god-e2e-bin")
	if err != nil {
		panic(err)
	}
	godBin, godFaultBin = filepath.Join(dir, "god"), filepath.Join(dir, "god-failpoints")
	for bin, tags := range map[string]string{godBin: "", godFaultBin: "failpoints"} {
		out, err := exec.Command("go", "build", "-tags", tags, "-o", bin, "..").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building god: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	// The CLI runs as test users: they must be able to execute it.
	_ = os.Chmod(dir, 0o755)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needEnv(t *testing.T) {
	t.Helper()
	skip := func(reason string) {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the e2e tests: %s (run scripts/testenv.sh)", reason)
		}
		t.Skipf("skipping: %s; run `make testenv` as root", reason)
	}
	if os.Geteuid() != 0 {
		skip("the e2e tests start the agent as root and run the CLI as test users")
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		skip("no Docker engine")
	}
	for _, u := range []string{"god-alice", "god-bob"} {
		if err := exec.Command("id", u).Run(); err != nil {
			skip("test user " + u + " missing")
		}
	}
}

var seq atomic.Int64

// agentProc is a `god agent` running as a child process.
type agentProc struct {
	t        *testing.T
	dir      string
	socket   string
	instance string
	shared   string // the job directories' root
	cfgPath  string
	args     []string
	bin      string   // godBin unless a test says otherwise
	env      []string // added to the agent's environment
	cmd      *exec.Cmd
	exited   chan error
	log      *testlog.Buffer
	client   *api.Client
}

// agentOpts shape a test agent's config.
type agentOpts struct {
	cpu   float64 // executor capacity override (0: the engine's)
	extra string  // appended to the config
	// instance and sharedDir, when set, are shared by the agents of a
	// cluster (one engine, one job directory tree).
	instance  string
	sharedDir string
	// bin and env, when set, start another binary (godFaultBin) with more
	// environment (GOD_FAILPOINT).
	bin string
	env []string
	// tmpfsMiB, when set, puts the agent's data dir (its store, socket and
	// job directories) on a tmpfs of that size: a disk that can fill up.
	tmpfsMiB int
	// dockerHost, when set, is the engine's address (a private dockerd).
	dockerHost string
}

// startAgent writes a config and starts the agent.
func startAgent(t *testing.T, o agentOpts, args ...string) *agentProc {
	t.Helper()
	needEnv(t)
	dir := traversableTempDir(t) // users reach the socket through it
	p := &agentProc{
		t:        t,
		dir:      dir,
		socket:   filepath.Join(dir, "god.sock"),
		instance: fmt.Sprintf("gode2e-%d-%d", os.Getpid(), seq.Add(1)),
		cfgPath:  filepath.Join(dir, "agent.hcl"),
		args:     args,
		shared:   filepath.Join(dir, "shared"),
	}
	if o.instance != "" {
		p.instance = o.instance
	}
	if o.sharedDir != "" {
		p.shared = o.sharedDir
	}
	p.bin, p.env = o.bin, o.env
	if o.tmpfsMiB > 0 {
		out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0755", o.tmpfsMiB), "tmpfs", dir).CombinedOutput()
		must.NoError(t, err, must.Sprint(string(out)))
		// Registered before the agent's cleanup, so it runs after it.
		t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	}
	cfg := fmt.Sprintf(`
data_dir  = %q
shared_dir = %q
socket    = %q
log_level = "debug"
allow_root = true # the test process submits as root
docker {
  instance = %q
  cpu      = %g
  %s
}
defaults {
  image  = %q
  memory = "128MiB"
}
%s`, dir, p.shared, p.socket, p.instance, o.cpu, dockerAddress(o.dockerHost), testImage, o.extra)
	must.NoError(t, os.WriteFile(p.cfgPath, []byte(cfg), 0o644))
	var err error
	p.client, err = api.NewClient(&api.Config{Address: "unix://" + p.socket})
	must.NoError(t, err)
	p.start()
	t.Cleanup(func() {
		if p.cmd != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			<-p.exited
		}
		// No container may outlive the test.
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=god.instance="+p.instance).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", p.log.String())
		}
	})
	return p
}

func dockerAddress(host string) string {
	if host == "" {
		return ""
	}
	return fmt.Sprintf("address = %q", host)
}

func (p *agentProc) start() {
	p.t.Helper()
	if p.log == nil {
		p.log = &testlog.Buffer{}
	}
	bin := p.bin
	if bin == "" {
		bin = godBin
	}
	p.cmd = exec.Command(bin, append([]string{"agent", "-config", p.cfgPath}, p.args...)...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	must.NoError(p.t, p.cmd.Start())
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd) { p.exited <- cmd.Wait() }(p.cmd)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("unix", p.socket); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.exited:
			p.cmd = nil
			p.t.Fatalf("agent exited (%v):\n%s", err, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("agent did not start:\n%s", p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill9 kills the agent the hard way: no cleanup, no graceful stop.
func (p *agentProc) kill9() {
	p.t.Helper()
	must.NoError(p.t, p.cmd.Process.Kill())
	<-p.exited
	p.cmd = nil
}

func (p *agentProc) restart() {
	p.t.Helper()
	p.start()
}

func (p *agentProc) submit(spec api.JobSpec) int64 {
	p.t.Helper()
	r, err := p.client.Jobs().Submit(context.Background(), &spec)
	must.NoError(p.t, err)
	return r.ID
}

func (p *agentProc) waitFor(id int64, what string, cond func(*api.Job) bool) *api.Job {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var index int64
	for {
		j, err := p.client.Jobs().Wait(ctx, id, index, 10*time.Second)
		must.NoError(p.t, err, must.Sprintf("waiting for job %d to be %s", id, what))
		if cond(j) {
			return j
		}
		index = j.Version
	}
}

func (p *agentProc) waitOver(id int64) *api.Job {
	return p.waitFor(id, "over", func(j *api.Job) bool { return j.Status.Primary == api.StateOver })
}

func (p *agentProc) waitRunning(id int64) *api.Job {
	return p.waitFor(id, "running", func(j *api.Job) bool { return j.Status.Primary == api.StateRunning })
}

func (p *agentProc) jobFile(id int64, name string) string {
	b, _ := os.ReadFile(filepath.Join(p.shared, "jobs", fmt.Sprint(id), name))
	return string(b)
}

// containersOf lists the ids of every container (running or not) of a job.
func (p *agentProc) containersOf(id int64) []string {
	out, err := exec.Command("docker", "ps", "-aq", "--no-trunc", "--filter", "label=god.instance="+p.instance, "--filter", fmt.Sprintf("label=god.job-id=%d", id)).Output()
	must.NoError(p.t, err)
	return strings.Fields(string(out))
}

func exitCode(j *api.Job) int {
	if j.Status.ExitCode == nil {
		return -1
	}
	return *j.Status.ExitCode
}

// god runs the CLI as a Unix user (by name; "" runs as root).
func god(t *testing.T, user, addr, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return godIn(t, "", user, addr, dir, args...)
}

// godIn is god with stdin as its standard input.
func godIn(t *testing.T, stdin, user, addr, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(godBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Dir = dir
	cmd.Env = []string{"GOD_ADDR=" + addr, "PATH=/usr/bin:/bin", "HOME=" + dir}
	if user != "" {
		uid, gid := lookupIDs(t, user)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running god %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func lookupIDs(t *testing.T, user string) (uint32, uint32) {
	t.Helper()
	out, err := exec.Command("id", "-u", user).Output()
	must.NoError(t, err)
	var uid, gid uint32
	fmt.Sscan(string(out), &uid)
	out, err = exec.Command("id", "-g", user).Output()
	must.NoError(t, err)
	fmt.Sscan(string(out), &gid)
	return uid, gid
}

// userDir is a working directory owned by a test user.
func userDir(t *testing.T, user string) string {
	t.Helper()
	dir := traversableTempDir(t)
	uid, gid := lookupIDs(t, user)
	must.NoError(t, os.Chown(dir, int(uid), int(gid)))
	return dir
}

// waitNoContainer waits until the job's container has been removed.
func (p *agentProc) waitNoContainer(id int64) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(p.containersOf(id)) > 0 {
		if time.Now().After(deadline) {
			p.t.Fatalf("container of job %d was never removed", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// traversableTempDir is a t.TempDir that other users can enter (the test's
// temp root is 0700).
func traversableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	must.NoError(t, os.Chmod(dir, 0o755))
	return dir
}
