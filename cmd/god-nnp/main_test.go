package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shoenig/test/must"
)

var built struct {
	once sync.Once
	bin  string
	err  error
}

// build makes god-nnp once, as `make build` does (static).
func build(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "god-nnp-test-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "god-nnp")
		cmd := exec.Command("go", "build", "-o", built.bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	must.NoError(t, built.err)
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.bin != "" {
		os.RemoveAll(filepath.Dir(built.bin))
	}
	os.Exit(code)
}

// TestNoNewPrivsUnderLoad: every command god-nnp executes has
// no_new_privs, also on a busy machine. The bit belongs to a thread: when
// the goroutine that set it moved to another thread before execve, the
// command ran without it (about 3% of these runs before the fix). A long
// PATH (many lookups between the two), one P and CPU contention make
// such moves likely.
func TestNoNewPrivsUnderLoad(t *testing.T) {
	bin := build(t)
	path := make([]string, 0, 302)
	for i := range 300 {
		path = append(path, fmt.Sprintf("/nonexistent/god-nnp-test/%d", i))
	}
	path = append(path, "/usr/bin", "/bin")
	env := append(os.Environ(), "PATH="+strings.Join(path, ":"), "GOMAXPROCS=1")

	stop := make(chan struct{})
	var spin sync.WaitGroup
	for range runtime.NumCPU() {
		spin.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	defer func() { close(stop); spin.Wait() }()

	const runs, workers = 300, 8
	var next, without atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= runs {
				cmd := exec.Command(bin, "cat", "/proc/self/status")
				cmd.Env = env
				out, err := cmd.Output()
				if err != nil {
					t.Errorf("god-nnp cat /proc/self/status: %v", err)
					return
				}
				if !strings.Contains(string(out), "\nNoNewPrivs:\t1\n") {
					without.Add(1)
				}
			}
		})
	}
	wg.Wait()
	must.Eq(t, int64(0), without.Load(), must.Sprintf("of %d runs, commands run without no_new_privs", runs))
}

// TestSelfTest: -selftest prints what the Swarm executor expects.
func TestSelfTest(t *testing.T) {
	out, err := exec.Command(build(t), "-selftest").Output()
	must.NoError(t, err)
	must.Eq(t, selfTestOK+"\n", string(out))
}

// TestExitCodes: nothing to run (125), a command not found (127); the
// command's own exit code otherwise.
func TestExitCodes(t *testing.T) {
	bin := build(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, 125},
		{[]string{"/nonexistent/god-nnp-test"}, 127},
		{[]string{"sh", "-c", "exit 3"}, 3},
	} {
		err := exec.Command(bin, tc.args...).Run()
		var ee *exec.ExitError
		must.True(t, errors.As(err, &ee), must.Sprintf("%v: %v", tc.args, err))
		must.Eq(t, tc.code, ee.ExitCode(), must.Sprintf("%v", tc.args))
	}
}
