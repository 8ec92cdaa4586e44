// Command god-nnp sets the no_new_privs bit on itself, then executes its
// arguments: nothing it runs, nor their children, can gain privileges
// through a setuid or file-capability binary. The Swarm executor makes it
// the entrypoint of a job's container on engines that cannot set
// no-new-privileges on a service (Docker before 25, API < 1.44).
//
// It must be a static executable (CGO_ENABLED=0, as `make build` makes
// it): it runs in the job's image, which may have no C library.
//
// `god-nnp -selftest` checks, on the host, that a program it executes has
// the bit (it executes itself), and prints selfTestOK; the Swarm executor
// runs it at start-up and refuses a helper that does not pass (an older
// god-nnp, or any other program).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// selfTestOK is what a passing self-test prints; the Swarm executor
// (plugins/executor/swarm) expects exactly it.
const selfTestOK = "god-nnp: no_new_privs=1 (thread-locked, checked before exec)"

const (
	selfTest = "-selftest"
	report   = "-selftest-report" // the self-test's child
)

func init() {
	// no_new_privs is a property of a thread, not of the process: set on
	// one thread, it reaches the command only if execve runs on that same
	// thread. Unlocked, the main goroutine may move to another thread
	// (one without the bit) between the two, as it did on loaded machines,
	// and the job ran without it. Locked here, in init, main runs on the
	// main thread throughout.
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: god-nnp command [args...]")
		os.Exit(125)
	}
	args := os.Args[1:]
	switch args[0] {
	case report:
		if nnp() != 1 {
			fmt.Fprintln(os.Stderr, "god-nnp: self-test: the executed program has no_new_privs 0")
			os.Exit(125)
		}
		fmt.Println(selfTestOK)
		return
	case selfTest:
		args = []string{"/proc/self/exe", report}
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "god-nnp: %v\n", err)
		os.Exit(127)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		// Never run the job without it: that is the point.
		fmt.Fprintf(os.Stderr, "god-nnp: setting no_new_privs: %v\n", err)
		os.Exit(125)
	}
	// Checked on the thread that executes, right before: whatever went
	// wrong, the job does not run without the bit.
	if nnp() != 1 {
		fmt.Fprintln(os.Stderr, "god-nnp: no_new_privs is not set on the executing thread; not running the job")
		os.Exit(125)
	}
	err = unix.Exec(path, args, os.Environ())
	fmt.Fprintf(os.Stderr, "god-nnp: executing %s: %v\n", path, err)
	os.Exit(126)
}

// nnp is the calling thread's no_new_privs bit; -1 if unreadable.
func nnp() int {
	v, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	if err != nil {
		return -1
	}
	return v
}
