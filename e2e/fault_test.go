package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

// The fault matrix of website/content/docs/reliability.md: each test
// injects one fault into real processes (the built agent, dockerd, redis)
// and checks that every acknowledged job ran exactly once, as its owner,
// with its own exit code.

// stop stops the agent gracefully (SIGTERM): its containers keep running.
func (p *agentProc) stop() {
	p.t.Helper()
	must.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	<-p.exited
	p.cmd = nil
}

// runAs writes a one-job spec in the user's directory and runs `god job
// run -wait` with it as that user.
func runAs(t *testing.T, p *agentProc, user, command string) (out, errOut string, code int) {
	t.Helper()
	dir := userDir(t, user)
	spec := fmt.Sprintf("job \"fault\" {\n  command = %q\n}\n", command)
	must.NoError(t, os.WriteFile(filepath.Join(dir, "job.hcl"), []byte(spec), 0o644))
	return god(t, user, "unix://"+p.socket, dir, "job", "run", "-wait", "job.hcl")
}

// TestFault_TwoStoresOneEngine is issue 19's reproduction: alice's job 1
// runs on one store when its agent stops; a second agent on a new store
// (a data dir started afresh) on the same engine and instance name gives
// bob's job 1 a container of its own: bob's script runs and reports its
// own exit code, and alice's container is left alone for her agent, which
// finds it when it comes back.
func TestFault_TwoStoresOneEngine(t *testing.T) {
	instance := fmt.Sprintf("gode2e-stores-%d", os.Getpid())
	first := startAgent(t, agentOpts{instance: instance})
	dir := userDir(t, "god-alice")
	must.NoError(t, os.WriteFile(filepath.Join(dir, "job.hcl"), []byte("job \"long\" {\n  command = \"echo I am alice; sleep 8\"\n}\n"), 0o644))
	out, errOut, code := god(t, "god-alice", "unix://"+first.socket, dir, "job", "run", "job.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, int64(1), submittedID(t, out))
	first.waitRunning(1)
	aliceContainer := first.containersOf(1)
	must.SliceLen(t, 1, aliceContainer)
	first.stop()

	second := startAgent(t, agentOpts{instance: instance})
	out, errOut, code = runAs(t, second, "god-bob", "echo I am bob; exit 3")
	must.Eq(t, 3, code, must.Sprint("god job run -wait exits with the job's code: ", errOut))
	must.Eq(t, int64(1), submittedID(t, out), must.Sprint("a new store numbers from 1 again"))
	must.StrContains(t, out, "Job 1 is over, exit code 3")
	must.Eq(t, "I am bob\n", second.jobFile(1, "god.log"), must.Sprint("bob's script ran"))
	j := second.waitOver(1)
	must.Eq(t, 3, exitCode(j))
	must.NotEq(t, aliceContainer[0], j.Container.ID)
	must.StrContains(t, second.log.String(), "container of another job store left alone")

	state, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", aliceContainer[0]).Output()
	must.NoError(t, err, must.Sprint("alice's container is still there"))
	must.Eq(t, "true", strings.TrimSpace(string(state)), must.Sprint("and still running"))

	first.restart()
	j = first.waitOver(1)
	must.Eq(t, 0, exitCode(j))
	must.Eq(t, aliceContainer[0], j.Container.ID)
	must.Eq(t, "I am alice\n", first.jobFile(1, "god.log"))
	must.Eq(t, "god-alice", j.User.Name)
}

// TestFault_SharedDirOfAnotherStore: job directories are named by id only
// (<shared_dir>/jobs/<id>), so an agent on a new store refuses a
// shared_dir whose job directories another store made, rather than give
// its job 1 alice's old directory.
func TestFault_SharedDirOfAnotherStore(t *testing.T) {
	first := startAgent(t, agentOpts{})
	id := first.submit(api.JobSpec{Name: "mine", Command: "echo mine > secret"})
	first.waitOver(id)
	first.stop()

	dir := traversableTempDir(t)
	cfg := filepath.Join(dir, "agent.hcl")
	must.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nshared_dir = %q\nsocket = %q\ndocker {\n  instance = %q\n}\n",
		dir, first.shared, filepath.Join(dir, "god.sock"), first.instance)), 0o644))
	out, err := exec.Command(godBin, "agent", "-config", cfg).CombinedOutput()
	must.Error(t, err, must.Sprintf("the agent started: %s", out))
	must.StrContains(t, string(out), "holds the job directories of another job store")
	must.StrContains(t, string(out), "set shared_dir to another directory")
	must.Eq(t, "mine\n", first.jobFile(id, "secret"), must.Sprint("nothing was touched"))
}
