//go:build failpoints

package failpoint

import (
	"os"
	"syscall"
)

// Hit kills the process with SIGKILL if GOD_FAILPOINT names this step.
func Hit(step string) {
	if os.Getenv("GOD_FAILPOINT") == step {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
