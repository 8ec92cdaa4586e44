package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoenig/test/must"
)

// `god job run` with several files, a directory and -count submits in one
// request: every job is the caller's, one line each in order; a bad spec
// or a refused job names its file, and nothing is submitted.
func TestCLI_BatchRun(t *testing.T) {
	p := startAgent(t, agentOpts{})
	addr := "unix://" + p.socket
	dir := userDir(t, "god-alice")
	specs := filepath.Join(dir, "specs")
	must.NoError(t, os.Mkdir(specs, 0o755))
	write := func(path, name, extra string) {
		t.Helper()
		must.NoError(t, os.WriteFile(path, []byte("job \""+name+"\" {\n  command = \"true\"\n  hold = true\n"+extra+"}\n"), 0o644))
	}
	write(filepath.Join(specs, "b.hcl"), "b", "")
	write(filepath.Join(specs, "a.hcl"), "a", "")
	must.NoError(t, os.WriteFile(filepath.Join(specs, "notes.txt"), []byte("not a spec"), 0o644))
	write(filepath.Join(dir, "one.hcl"), "one", "")

	out, errOut, code := god(t, "god-alice", addr, dir, "job", "run", "-count", "2", "specs", "one.hcl")
	must.Eq(t, 0, code, must.Sprint(errOut))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	must.SliceLen(t, 6, lines, must.Sprint(out))
	must.StrContains(t, lines[0], "(specs/a.hcl, copy 1)")
	must.StrContains(t, lines[2], "(specs/b.hcl, copy 1)")
	must.StrContains(t, lines[5], "(one.hcl, copy 2)")
	for _, l := range lines {
		j, err := p.client.Jobs().Info(t.Context(), submittedID(t, l))
		must.NoError(t, err)
		must.Eq(t, "god-alice", j.User.Name)
		must.True(t, j.Held)
	}

	// A refused job (too much memory) names its file; nothing is stored.
	write(filepath.Join(specs, "c.hcl"), "c", "  resources {\n    memory = \"10TiB\"\n  }\n")
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "run", "specs")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "specs/c.hcl: resources.memory")
	must.StrContains(t, errOut, "nothing of the 3 was submitted")
	// A spec that does not parse is reported before anything is sent.
	must.NoError(t, os.WriteFile(filepath.Join(specs, "d.hcl"), []byte("job \"d\" {\n  comand = \"true\"\n}\n"), 0o644))
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "run", "specs")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "specs/d.hcl line 2")
	out, _, _ = god(t, "god-alice", addr, dir, "job", "status", "-json")
	must.Eq(t, 6, strings.Count(out, `"primary": "pending"`), must.Sprint(out))

	_, errOut, code = god(t, "god-alice", addr, dir, "job", "run", "-wait", "-count", "2", "one.hcl")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "-wait follows one job")
	_, errOut, code = god(t, "god-alice", addr, dir, "job", "run", "-count", "0", "one.hcl")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "-count must be from 1 to 1000000, got 0")
}
