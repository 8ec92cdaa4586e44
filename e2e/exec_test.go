package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoenig/test/must"
)

// runningJobOf submits a job as user that stays up, and waits until its
// script runs.
func runningJobOf(t *testing.T, p *agentProc, user string) (id int64, dir string) {
	t.Helper()
	dir = userDir(t, user)
	must.NoError(t, os.WriteFile(filepath.Join(dir, "up.hcl"), []byte("job \"up\" {\n  command = \"echo ready; sleep 300\"\n}\n"), 0o644))
	out, errOut, code := god(t, user, "unix://"+p.socket, dir, "job", "run", "up.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	id = submittedID(t, out)
	p.waitRunning(id)
	waitFile(t, p, id, "god.log", "ready")
	return id, dir
}

// TestExec_AsTheJobsUser: `god job exec` runs in the job's container as
// the job's user (uid, groups), in its job directory, confined as the job
// is; its output, error output, input and exit code are the command's.
func TestExec_AsTheJobsUser(t *testing.T) {
	p := startAgent(t, agentOpts{})
	id, dir := runningJobOf(t, p, "god-alice")
	addr := "unix://" + p.socket
	uid, gid := lookupIDs(t, "god-alice")
	sid := fmt.Sprint(id)

	out, errOut, code := god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "sh", "-c", "id -u; id -g; id -G; id -un; pwd; grep -E '^(NoNewPrivs|CapEff)' /proc/self/status")
	must.Eq(t, 0, code, must.Sprint(errOut))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	must.SliceLen(t, 7, lines, must.Sprint(out))
	must.Eq(t, fmt.Sprint(uid), lines[0])
	must.Eq(t, fmt.Sprint(gid), lines[1])
	must.StrContains(t, lines[2], "23100", must.Sprint("the job's supplementary group god-lab"))
	must.Eq(t, "god-alice", lines[3])
	must.Eq(t, "/mnt/go-docker", lines[4])
	must.Eq(t, "CapEff:\t0000000000000000", lines[5])
	must.Eq(t, "NoNewPrivs:\t1", lines[6])

	out, errOut, code = god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "sh", "-c", "echo out; echo err >&2; exit 7")
	must.Eq(t, 7, code)
	must.Eq(t, "out\n", out)
	must.Eq(t, "err\n", errOut)

	out, errOut, code = godIn(t, "hello from stdin\n", "god-alice", addr, dir, "job", "exec", "-i", sid, "--", "cat")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "hello from stdin\n", out)
	// Without -i the command gets end of input at once.
	out, _, code = godIn(t, "ignored\n", "god-alice", addr, dir, "job", "exec", sid, "--", "cat")
	must.Eq(t, 0, code)
	must.Eq(t, "", out)

	// What the command writes in the job directory is the user's.
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "touch", "made-by-exec")
	must.Eq(t, 0, code, must.Sprint(errOut))
	fi, err := os.Stat(filepath.Join(p.shared, "jobs", sid, "made-by-exec"))
	must.NoError(t, err)
	must.Eq(t, uid, fileUID(fi))
}

// TestExec_Refused: another user cannot open a session into a job (nor
// find out more than that it is not theirs); a job that is not running,
// a missing command, a suspended job are refused with the reason; every
// attempt is audited.
func TestExec_Refused(t *testing.T) {
	p := startAgent(t, agentOpts{})
	id, dir := runningJobOf(t, p, "god-alice")
	addr := "unix://" + p.socket
	sid := fmt.Sprint(id)

	_, errOut, code := god(t, "god-bob", addr, userDir(t, "god-bob"), "job", "exec", sid, "--", "id")
	must.Eq(t, 255, code)
	must.StrContains(t, errOut, "permission denied")
	_, errOut, code = god(t, "god-bob", addr, userDir(t, "god-bob"), "job", "ssh", sid)
	must.Eq(t, 255, code)
	must.StrContains(t, errOut, "permission denied")

	_, errOut, code = god(t, "god-alice", addr, dir, "job", "exec", sid)
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "a job id and a command")

	_, errOut, code = god(t, "god-alice", addr, dir, "job", "suspend", sid)
	must.Eq(t, 0, code, must.Sprint(errOut))
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "id")
	must.Eq(t, 255, code)
	must.StrContains(t, errOut, "is suspended: resume it first")
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "resume", sid)
	must.Eq(t, 0, code, must.Sprint(errOut))

	// An admin may, as the job's user (not as root).
	out, errOut, code := god(t, "", addr, dir, "job", "exec", sid, "--", "id", "-un")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "god-alice\n", out)

	_, errOut, code = god(t, "god-alice", addr, dir, "job", "stop", sid)
	must.Eq(t, 0, code, must.Sprint(errOut))
	p.waitOver(id)
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "id")
	must.Eq(t, 255, code)
	must.StrContains(t, errOut, "sessions open into running jobs only")

	out, errOut, code = god(t, "", addr, dir, "operator", "audit", "-action", "job.exec")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "god-bob")
	must.StrContains(t, out, "job "+sid+": id")
	must.StrContains(t, out, "permission denied")
}

// TestExec_Terminal: `god job ssh` from a terminal gives bash a terminal
// of the client's size, and its exit code.
func TestExec_Terminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("skipping: no script(1) to give god a terminal (util-linux)")
	}
	p := startAgent(t, agentOpts{})
	id, dir := runningJobOf(t, p, "god-alice")
	// script(1) runs god on a terminal; its size is set before god reads it.
	shell := fmt.Sprintf("stty rows 33 cols 101; GOD_ADDR=unix://%s %s job ssh %d", p.socket, godBin, id)
	cmd := exec.Command("script", "-qec", shell, "/dev/null")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "TERM=dumb"}
	uid, gid := lookupIDs(t, "god-alice")
	cmd.SysProcAttr = credential(uid, gid)
	cmd.Stdin = &slowInput{lines: []string{"tty; shopt -s checkwinsize; true; echo SIZE=$LINES:$COLUMNS GROUPS=$(id -G)\n", "exit 4\n"}}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	must.True(t, ok, must.Sprintf("%v: %s", err, out))
	must.Eq(t, 4, ee.ExitCode(), must.Sprint(string(out)))
	must.StrContains(t, string(out), "/dev/pts/")
	must.StrContains(t, string(out), "SIZE=33:101 GROUPS=23001 23100")
}

// TestExec_Limits: sessions.max_per_job and sessions.idle_timeout hold.
func TestExec_Limits(t *testing.T) {
	p := startAgent(t, agentOpts{extra: "sessions {\n  max_per_job = 1\n  idle_timeout = \"2s\"\n}\n"})
	id, dir := runningJobOf(t, p, "god-alice")
	addr := "unix://" + p.socket
	sid := fmt.Sprint(id)

	var wg sync.WaitGroup
	var idleErr string
	var idleCode int
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, idleErr, idleCode = god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "sh", "-c", "echo open > session; sleep 60")
	}()
	waitFile(t, p, id, "session", "open")
	_, errOut, code := god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "true")
	must.Eq(t, 255, code)
	must.StrContains(t, errOut, "too many sessions")
	wg.Wait()
	must.Eq(t, 255, idleCode)
	must.StrContains(t, idleErr, "idle for 2s")
	// Its place is free again.
	out, errOut, code := god(t, "god-alice", addr, dir, "job", "exec", sid, "--", "echo", "again")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "again\n", out)
}

// slowInput gives its lines one at a time, a moment apart, as a person
// types: a terminal program reads what arrives, not what is to come.
type slowInput struct {
	lines []string
}

func (s *slowInput) Read(p []byte) (int, error) {
	if len(s.lines) == 0 {
		time.Sleep(5 * time.Second) // keep the terminal open until the shell exits
		return 0, fmt.Errorf("no more input")
	}
	time.Sleep(500 * time.Millisecond)
	n := copy(p, s.lines[0])
	s.lines = s.lines[1:]
	return n, nil
}

func fileUID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Uid }

func credential(uid, gid uint32) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
}
