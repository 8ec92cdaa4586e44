// Command god-nnp sets the no_new_privs bit on itself, then executes its
// arguments: nothing it runs, nor their children, can gain privileges
// through a setuid or file-capability binary. The Swarm executor makes it
// the entrypoint of a job's container on engines that cannot set
// no-new-privileges on a service (Docker before 25, API < 1.44).
//
// It must be a static executable (CGO_ENABLED=0, as `make build` makes
// it): it runs in the job's image, which may have no C library.
package main

import (
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: god-nnp command [args...]")
		os.Exit(125)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		// Never run the job without it: that is the point.
		fmt.Fprintf(os.Stderr, "god-nnp: setting no_new_privs: %v\n", err)
		os.Exit(125)
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "god-nnp: %v\n", err)
		os.Exit(127)
	}
	err = unix.Exec(path, os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "god-nnp: executing %s: %v\n", path, err)
	os.Exit(126)
}
