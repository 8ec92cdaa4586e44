package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/external"
	"github.com/godocker/god/plugins/scheduler/fifo"
)

// OpenPolicy returns the policy a finalized configuration names: a built-in
// one, or the plugin <plugin_dir>/god-scheduler-<name>, started now with
// fifo's order as its fallback. stop ends a plugin; call it once the agent
// has stopped.
func OpenPolicy(cfg *config.Config, log hclog.Logger) (policy scheduler.Scheduler, stop func(), err error) {
	sc := cfg.Scheduler
	if slices.Contains(config.BuiltinSchedulers, sc.Name) {
		return Policy(sc), func() {}, nil
	}
	path := filepath.Join(cfg.PluginDir, "god-scheduler-"+sc.Name)
	if err := checkPluginFile(path); err != nil {
		return nil, nil, fmt.Errorf("scheduler %q: %w (plugin_dir is %s)", sc.Name, err, cfg.PluginDir)
	}
	p, err := external.New(log.Named("scheduler"), path, sc.Config, fifo.Scheduler{}, external.WithTimeout(sc.TimeoutDuration))
	if err != nil {
		return nil, nil, fmt.Errorf("scheduler %q: %w", sc.Name, err)
	}
	return p, func() { _ = p.Close() }, nil
}

// checkPluginFile refuses a plugin binary that is missing, or that someone
// other than its owner could replace: it runs with the agent's privileges.
func checkPluginFile(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf(`no plugin binary %s; install it there, or name a built-in policy ("fifo" or "fairshare")`, path)
	} else if err != nil {
		return err
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		st, err = os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("%s is writable by others than its owner (mode %v); chmod go-w it", p, st.Mode().Perm())
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && int(sys.Uid) != os.Getuid() {
			return fmt.Errorf("%s is owned by uid %d, neither root nor the agent's user", p, sys.Uid)
		}
	}
	return nil
}
