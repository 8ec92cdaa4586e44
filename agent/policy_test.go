package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/plugins/scheduler"
)

func policyConfig(t *testing.T, name, pluginDir string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.PluginDir = pluginDir
	cfg.Scheduler = &config.Scheduler{Name: name}
	must.NoError(t, cfg.Finalize())
	return cfg
}

func TestOpenPolicy_builtin(t *testing.T) {
	p, stop, err := OpenPolicy(policyConfig(t, "fairshare", ""), hclog.NewNullLogger())
	must.NoError(t, err)
	defer stop()
	must.Eq(t, "fairshare", p.Name())
}

// A scheduler name that is not built in runs the plugin binary of that
// name in plugin_dir, and a missing or unsafe binary stops the agent with
// a message naming the file.
func TestOpenPolicy_plugin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plugins")
	must.NoError(t, os.Mkdir(dir, 0o755))

	_, _, err := OpenPolicy(policyConfig(t, "smallest-first", dir), hclog.NewNullLogger())
	must.EqError(t, err, `scheduler "smallest-first": no plugin binary `+dir+`/god-scheduler-smallest-first; install it there, or name a built-in policy ("fifo" or "fairshare") (plugin_dir is `+dir+`)`)

	bin := filepath.Join(dir, "god-scheduler-smallest-first")
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../plugins/scheduler/example/smallest-first").CombinedOutput()
	must.NoError(t, err, must.Sprint(string(out)))

	must.NoError(t, os.Chmod(bin, 0o777))
	_, _, err = OpenPolicy(policyConfig(t, "smallest-first", dir), hclog.NewNullLogger())
	must.ErrorContains(t, err, bin+" is writable by others than its owner (mode -rwxrwxrwx); chmod go-w it")
	must.NoError(t, os.Chmod(bin, 0o755))

	p, stop, err := OpenPolicy(policyConfig(t, "smallest-first", dir), hclog.NewNullLogger())
	must.NoError(t, err)
	defer stop()
	must.Eq(t, "smallest-first", p.Name())
	ds, err := p.Order(context.Background(), &scheduler.Snapshot{Pending: []scheduler.Job{
		{ID: 1, CPU: 4, Memory: 1 << 30}, {ID: 2, CPU: 1, Memory: 1 << 30},
	}})
	must.NoError(t, err)
	must.Eq(t, []scheduler.Decision{
		{JobID: 2, Reason: "smallest first: fewest cores times memory requested, then oldest"},
		{JobID: 1, Reason: "smallest first: fewest cores times memory requested, then oldest"},
	}, ds)
}
