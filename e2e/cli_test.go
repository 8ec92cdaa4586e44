package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

var jobIDLine = regexp.MustCompile(`Job id is (\d+)`)

func submittedID(t *testing.T, out string) int64 {
	t.Helper()
	m := jobIDLine.FindStringSubmatch(out)
	must.SliceLen(t, 2, m, must.Sprintf("no job id in %q", out))
	id, err := strconv.ParseInt(m[1], 10, 64)
	must.NoError(t, err)
	return id
}

// The quickstart as a user follows it: init, run -wait, status, logs, stop.
func TestCLI_UserWorkflow(t *testing.T) {
	p := startAgent(t, agentOpts{})
	addr := "unix://" + p.socket
	dir := userDir(t, "god-alice")

	out, errOut, code := god(t, "god-alice", addr, dir, "job", "init")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "task.hcl")
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "init")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "already exists")

	out, errOut, code = god(t, "god-alice", addr, dir, "job", "run", "-wait", "task.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	id := submittedID(t, out)
	must.StrContains(t, out, fmt.Sprintf("Job %d is over, exit code 0", id))

	out, _, code = god(t, "god-alice", addr, dir, "job", "logs", fmt.Sprint(id))
	must.Eq(t, 0, code)
	must.StrContains(t, out, fmt.Sprintf("hello from job %d, running as god-alice", id))
	must.StrContains(t, out, "groups=23001(god-alice),23100(god-lab)")

	out, _, code = god(t, "god-alice", addr, dir, "job", "status")
	must.Eq(t, 0, code)
	must.StrContains(t, out, "hello")
	must.StrContains(t, out, "god-alice")

	out, _, code = god(t, "god-alice", addr, dir, "job", "status", "-json", fmt.Sprint(id))
	must.Eq(t, 0, code)
	var j api.Job
	must.NoError(t, json.Unmarshal([]byte(out), &j))
	must.Eq(t, api.StateOver, j.Status.Primary)
	must.Eq(t, "god-alice", j.User.Name)

	// -wait exits with the job's exit code.
	must.NoError(t, os.WriteFile(filepath.Join(dir, "fail.hcl"), []byte(`job "fail" {
  command = "echo to-stderr >&2; exit 3"
}
`), 0o644))
	out, errOut, code = god(t, "god-alice", addr, dir, "job", "run", "-wait", "fail.hcl")
	must.Eq(t, 3, code, must.Sprint(out, errOut))
	failID := submittedID(t, out)
	out, _, _ = god(t, "god-alice", addr, dir, "job", "logs", "-stderr", fmt.Sprint(failID))
	must.Eq(t, "to-stderr\n", out)

	// Stop a running job: killed, 137.
	must.NoError(t, os.WriteFile(filepath.Join(dir, "long.hcl"), []byte("job \"long\" {\n  command = \"sleep 300\"\n}\n"), 0o644))
	out, _, code = god(t, "god-alice", addr, dir, "job", "run", "long.hcl")
	must.Eq(t, 0, code)
	longID := submittedID(t, out)
	p.waitRunning(longID)
	out, errOut, code = god(t, "god-alice", addr, dir, "job", "stop", fmt.Sprint(longID))
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, fmt.Sprintf("Job %d is over (killed), exit code 137", longID))
	p.waitNoContainer(longID)
}

// Bad input is refused before anything is submitted, with file:line:col.
func TestCLI_SpecErrors(t *testing.T) {
	p := startAgent(t, agentOpts{})
	addr := "unix://" + p.socket
	dir := userDir(t, "god-alice")
	must.NoError(t, os.WriteFile(filepath.Join(dir, "bad.hcl"), []byte(`job "bad" {
  command = "true"
  resources {
    cpus = 2
  }
}
`), 0o644))
	_, errOut, code := god(t, "god-alice", addr, dir, "job", "run", "bad.hcl")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "bad.hcl line 4")
	must.StrContains(t, errOut, `"cpus"`)

	_, errOut, code = god(t, "god-alice", addr, dir, "job", "status", "abc")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "not a job id")

	_, errOut, code = god(t, "god-alice", addr, dir, "job", "status", "424242")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "job 424242 not found")

	out, _, _ := god(t, "god-alice", addr, dir, "job", "status")
	must.StrContains(t, out, "No jobs")
}

// Another user can neither see nor touch a job, through any command.
func TestCLI_OtherUsersJobs(t *testing.T) {
	p := startAgent(t, agentOpts{})
	addr := "unix://" + p.socket
	aliceDir, bobDir := userDir(t, "god-alice"), userDir(t, "god-bob")
	must.NoError(t, os.WriteFile(filepath.Join(aliceDir, "secret.hcl"), []byte("job \"secret\" {\n  command = \"echo alice-secret; sleep 300\"\n}\n"), 0o644))
	out, errOut, code := god(t, "god-alice", addr, aliceDir, "job", "run", "secret.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	id := submittedID(t, out)
	p.waitRunning(id)
	for _, args := range [][]string{
		{"job", "status", fmt.Sprint(id)},
		{"job", "logs", fmt.Sprint(id)},
		{"job", "stop", fmt.Sprint(id)},
	} {
		out, errOut, code := god(t, "god-bob", addr, bobDir, args...)
		must.Eq(t, 1, code, must.Sprint(args))
		must.StrContains(t, errOut, "permission denied", must.Sprint(args))
		must.StrNotContains(t, out+errOut, "alice-secret")
	}
	out, _, _ = god(t, "god-bob", addr, bobDir, "job", "status")
	must.StrContains(t, out, "No jobs")
	j, err := p.client.Jobs().Info(t.Context(), id)
	must.NoError(t, err)
	must.Eq(t, api.StateRunning, j.Status.Primary, must.Sprint("bob's stop did nothing"))
	_, _, code = god(t, "god-alice", addr, aliceDir, "job", "stop", fmt.Sprint(id))
	must.Eq(t, 0, code)
}

// In dev mode the TCP API identifies loopback callers through the kernel's
// socket table: bob over TCP is bob, not the agent's user.
func TestCLI_DevTCPIdentity(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p := startAgent(t, agentOpts{extra: fmt.Sprintf("http {\n  enabled = true\n  port = %d\n}\n", port)}, "-dev")
	addr := fmt.Sprintf("http://127.0.0.1:%d", port)
	bobDir := userDir(t, "god-bob")
	must.NoError(t, os.WriteFile(filepath.Join(bobDir, "t.hcl"), []byte("job \"tcp\" {\n  command = \"whoami\"\n}\n"), 0o644))
	out, errOut, code := god(t, "god-bob", addr, bobDir, "job", "run", "-wait", "t.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	id := submittedID(t, out)
	j := p.waitOver(id)
	must.Eq(t, "god-bob", j.User.Name)
	must.Eq(t, "god-bob\n", p.jobFile(id, "god.log"))
	must.True(t, strings.Contains(p.log.String(), "dev mode: loopback callers without a token are identified by the kernel"))
}

// Without a Docker engine the agent says so and how to fix it, and exits
// instead of hanging.
func TestAgent_DockerUnreachable(t *testing.T) {
	needEnv(t)
	dir := traversableTempDir(t)
	cfg := filepath.Join(dir, "agent.hcl")
	must.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nsocket = %q\ndocker {\n  address = \"unix://%s/nodocker.sock\"\n}\n", dir, filepath.Join(dir, "god.sock"), dir)), 0o644))
	out, errOut, code := god(t, "", "", dir, "agent", "-config", cfg)
	must.Eq(t, 1, code, must.Sprint(out))
	must.StrContains(t, errOut, "cannot reach the Docker engine")
	must.StrContains(t, errOut, "dockerd")
}

// A bad agent config is reported with every problem at once.
func TestAgent_BadConfig(t *testing.T) {
	needEnv(t)
	dir := traversableTempDir(t)
	cfg := filepath.Join(dir, "agent.hcl")
	must.NoError(t, os.WriteFile(cfg, []byte("data_dir = \"relative\"\nlog_level = \"loud\"\nvolume \"home\" {\n  path = \"/x\"\n}\n"), 0o644))
	_, errOut, code := god(t, "", "", dir, "agent", "-config", cfg)
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "data_dir must be an absolute path")
	must.StrContains(t, errOut, "log_level must be one of")
	must.StrContains(t, errOut, `volume "home"`)
}

// Arrays, dependencies, hold/release, suspend/resume, update and archive
// through the CLI, as a user; another user can do none of it to her jobs.
func TestCLI_JobSemantics(t *testing.T) {
	p := startAgent(t, agentOpts{})
	addr := "unix://" + p.socket
	dir, bobDir := userDir(t, "god-alice"), userDir(t, "god-bob")
	write := func(name, body string) {
		must.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		out, errOut, code := god(t, "god-alice", addr, dir, args...)
		return out + errOut, code
	}
	write("arr.hcl", "job \"arr\" {\n  command = \"echo task $GODOCKER_TASK_ID\"\n  array = \"1:4\"\n  throttle = 2\n  resources {\n    cpu = 0.1\n    memory = \"16MiB\"\n  }\n}\n")
	out, code := run("job", "run", "-wait", "arr.hcl")
	must.Eq(t, 0, code, must.Sprint(out))
	arr := submittedID(t, out)
	out, _ = run("job", "status", fmt.Sprint(arr))
	must.StrContains(t, out, fmt.Sprintf("Array 1:4:1, 4 tasks, at most 2 at once (job ids %d to %d)", arr+1, arr+4))
	out, _ = run("job", "logs", fmt.Sprint(arr+2))
	must.Eq(t, "task 2\n", out)
	out, code = run("job", "logs", fmt.Sprint(arr))
	must.Eq(t, 1, code)
	must.StrContains(t, out, "is an array: read the logs of its tasks")
	out, _ = run("job", "status", fmt.Sprint(arr))
	must.RegexMatch(t, regexp.MustCompile(`over\s+4`), out)

	write("held.hcl", fmt.Sprintf("job \"held\" {\n  command = \"sleep 300\"\n  hold = true\n  depends_on = [\"afterok:%d\"]\n}\n", arr))
	out, code = run("job", "run", "held.hcl")
	must.Eq(t, 0, code, must.Sprint(out))
	held := submittedID(t, out)
	out, _ = run("job", "status", fmt.Sprint(held))
	must.StrContains(t, out, "held")
	must.StrContains(t, out, fmt.Sprintf("afterok:%d", arr))

	for _, verb := range []string{"release", "hold", "suspend", "stop", "archive", "reschedule"} {
		_, errOut, code := god(t, "god-bob", addr, bobDir, "job", verb, fmt.Sprint(held))
		must.Eq(t, 1, code, must.Sprint(verb))
		must.StrContains(t, errOut, "permission denied", must.Sprint(verb))
	}
	_, errOut, _ := god(t, "god-bob", addr, bobDir, "job", "update", "-max-lifespan", "1s", fmt.Sprint(held))
	must.StrContains(t, errOut, "permission denied")

	out, code = run("job", "release", fmt.Sprint(held))
	must.Eq(t, 0, code, must.Sprint(out))
	p.waitRunning(held)
	out, code = run("job", "suspend", fmt.Sprint(held))
	must.Eq(t, 0, code, must.Sprint(out))
	must.StrContains(t, out, "running (suspended)")
	out, code = run("job", "resume", fmt.Sprint(held))
	must.Eq(t, 0, code, must.Sprint(out))
	out, code = run("job", "update", "-max-lifespan", "1s", fmt.Sprint(held))
	must.Eq(t, 0, code, must.Sprint(out))
	j := p.waitOver(held)
	must.Eq(t, "max lifespan reached", j.Status.Reason)

	out, code = run("job", "archive", fmt.Sprint(arr))
	must.Eq(t, 0, code, must.Sprint(out))
	must.StrContains(t, out, "5 job(s) archived")
	out, _ = run("job", "logs", fmt.Sprint(arr+1))
	must.StrContains(t, out, "archived")
}
