package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"
)

// TestCLI_WorkflowHelpers: what a workflow manager's submit and status
// commands need: `god job run -parsable` prints only the id,
// `god job status -state ID` one word.
func TestCLI_WorkflowHelpers(t *testing.T) {
	p := startAgent(t, agentOpts{})
	addr := "unix://" + p.socket
	dir := userDir(t, "god-alice")
	must.NoError(t, os.WriteFile(filepath.Join(dir, "held.hcl"), []byte("job \"held\" {\n  command = \"true\"\n  hold = true\n}\n"), 0o644))
	for name, cmd := range map[string]string{"ok": "true", "bad": "exit 3", "slow": "sleep 300"} {
		must.NoError(t, os.WriteFile(filepath.Join(dir, name+".hcl"), []byte("job \""+name+"\" {\n  command = \""+cmd+"\"\n}\n"), 0o644))
	}
	submit := func(name string) int64 {
		t.Helper()
		out, errOut, code := god(t, "god-alice", addr, dir, "job", "run", "-parsable", name+".hcl")
		must.Eq(t, 0, code, must.Sprint(errOut))
		id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		must.NoError(t, err, must.Sprintf("-parsable printed %q", out))
		return id
	}
	word := func(id int64) string {
		t.Helper()
		out, errOut, code := god(t, "god-alice", addr, dir, "job", "status", "-state", strconv.FormatInt(id, 10))
		must.Eq(t, 0, code, must.Sprint(errOut))
		return strings.TrimSpace(out)
	}
	ok, bad, slow := submit("ok"), submit("bad"), submit("slow")
	must.Eq(t, "pending", word(submit("held")))
	p.waitOver(ok)
	p.waitOver(bad)
	p.waitRunning(slow)
	must.Eq(t, "success", word(ok))
	must.Eq(t, "failed", word(bad))
	must.Eq(t, "running", word(slow))
	_, errOut, code := god(t, "god-alice", addr, dir, "job", "stop", strconv.FormatInt(slow, 10))
	must.Eq(t, 0, code, must.Sprint(errOut))
	p.waitOver(slow)
	must.Eq(t, "failed", word(slow))

	// Several specs: one id per line.
	out, errOut, code := god(t, "god-alice", addr, dir, "job", "run", "-parsable", "ok.hcl", "bad.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	ids := strings.Fields(out)
	must.SliceLen(t, 2, ids, must.Sprint(out))
	deadline := time.Now().Add(60 * time.Second)
	for word(mustID(t, ids[1])) != "failed" {
		must.True(t, time.Now().Before(deadline))
		time.Sleep(100 * time.Millisecond)
	}

	// -parsable -wait: the id only, and the job's exit code.
	out, _, code = god(t, "god-alice", addr, dir, "job", "run", "-parsable", "-wait", "bad.hcl")
	must.Eq(t, 3, code)
	_, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	must.NoError(t, err, must.Sprintf("-parsable -wait printed %q", out))

	// Another user's job cannot be read; a missing one is an error.
	_, errOut, code = god(t, "god-bob", addr, userDir(t, "god-bob"), "job", "status", "-state", strconv.FormatInt(ok, 10))
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "permission denied")
	_, _, code = god(t, "god-alice", addr, dir, "job", "status", "-state", "999")
	must.Eq(t, 1, code)
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(s, 10, 64)
	must.NoError(t, err)
	return id
}
