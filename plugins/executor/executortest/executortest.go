// Package executortest is the contract every executor must meet, run
// against its real engine: jobs run as their user, exit codes and kills
// are reported as they happened, the engine enforces memory limits and
// refuses privileges, a new executor value (an agent restarted after
// kill -9) finds the jobs and their ends, and a store never sees nor
// touches another store's jobs. An executor's tests call Run with a
// Harness that opens it on the engine.
package executortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/executor"
)

// Harness opens the executor under test.
type Harness struct {
	// Open returns a new executor value for the given instance name and
	// store id on the engine under test, as a restarted agent makes one;
	// it skips the test (with the reason) if the engine is not there.
	// Run removes the jobs it started and closes what Open returned if it
	// has a Close method.
	Open func(t *testing.T, instance, storeID string) executor.Executor
	// Image has bash and busybox (scripts/testenv.sh builds one).
	Image string
	// UID, GID and Groups are the test user's (jobs run as them).
	UID, GID int
	Groups   []int
	// SetuidBash is a static bash on the host, copied setuid-root to show
	// that it does not give the job root; "" skips that check.
	SetuidBash string
	// ReportsOOM: the executor sets State.OOMKilled when the engine kills
	// a job for memory (else only the exit code, 137, is checked).
	ReportsOOM bool
	// Timeout bounds each case; 0 means 90s.
	Timeout time.Duration
}

// Run runs the contract's cases as parallel subtests.
func Run(t *testing.T, h Harness) {
	if h.Timeout == 0 {
		h.Timeout = 90 * time.Second
	}
	c := &contract{h: h}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"RunsAsUser", c.runsAsUser},
		{"ExitCodes", c.exitCodes},
		{"Kill", c.kill},
		{"Stop", c.stop},
		{"OOM", c.oom},
		{"RefusedPrivileges", c.refusedPrivileges},
		{"SetuidRefused", c.setuidRefused},
		{"StartIdempotent", c.startIdempotent},
		{"Recovery", c.recovery},
		{"StoresApart", c.storesApart},
		{"Events", c.events},
		{"MissingImagePermanent", c.missingImage},
		{"InvalidMountPermanent", c.invalidMount},
		{"PauseUnpause", c.pauseUnpause},
		{"Exec", c.exec},
		{"Capacity", c.capacity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type contract struct{ h Harness }

// NewStoreID is a random store identity (16 hex digits).
func NewStoreID() string { return randomHex(8) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// env is one case's executor and its instance.
type env struct {
	t        *testing.T
	c        *contract
	ctx      context.Context
	instance string
	store    string
	ex       executor.Executor
}

// newEnv opens an executor on an instance of its own.
func (c *contract) newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.h.Timeout)
	t.Cleanup(cancel)
	e := &env{t: t, c: c, ctx: ctx, instance: "godct-" + randomHex(3), store: NewStoreID()}
	e.ex = e.open(e.store)
	return e
}

// open makes a new executor value on the env's instance for store; its
// jobs are removed when the test ends.
func (e *env) open(store string) executor.Executor {
	e.t.Helper()
	ex := e.c.h.Open(e.t, e.instance, store)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if states, err := ex.List(ctx); err == nil {
			for _, s := range states {
				if err := ex.Remove(ctx, s.JobID); err != nil {
					e.t.Errorf("cleanup: %v", err)
				}
			}
		} else {
			e.t.Errorf("cleanup: listing jobs of instance %s: %v", e.instance, err)
		}
		if c, ok := ex.(interface{ Close() error }); ok {
			c.Close()
		}
	})
	return ex
}

// task is a job of the test user running a bash script.
func (e *env) task(jobID int64, script string, mounts ...executor.Mount) *executor.Task {
	return &executor.Task{
		JobID:       jobID,
		Owner:       e.c.h.UID,
		Name:        "contract-" + strconv.FormatInt(jobID, 10),
		Image:       e.c.h.Image,
		Entrypoint:  []string{"bash", "-c", script},
		UID:         e.c.h.UID,
		GID:         e.c.h.GID,
		Groups:      e.c.h.Groups,
		Mounts:      mounts,
		KillTimeout: 10 * time.Second,
	}
}

// dir is a host directory the test user can write, mounted at /data.
func (e *env) dir() (string, executor.Mount) {
	e.t.Helper()
	d := e.t.TempDir()
	if os.Geteuid() == 0 {
		must.NoError(e.t, os.Chown(d, e.c.h.UID, e.c.h.GID))
		must.NoError(e.t, os.Chmod(d, 0o755))
	} else {
		must.NoError(e.t, os.Chmod(d, 0o777))
	}
	return d, executor.Mount{Source: d, Target: "/data"}
}

func (e *env) start(ex executor.Executor, tk *executor.Task) *executor.State {
	e.t.Helper()
	st, err := ex.Start(e.ctx, tk)
	must.NoError(e.t, err, must.Sprintf("starting job %d", tk.JobID))
	must.Eq(e.t, tk.JobID, st.JobID)
	must.NotEq(e.t, "", st.ID)
	return st
}

// waitEnded polls the job until it has stopped.
func (e *env) waitEnded(ex executor.Executor, jobID int64) *executor.State {
	e.t.Helper()
	for {
		st, err := ex.Inspect(e.ctx, jobID)
		must.NoError(e.t, err)
		if !st.Running && !st.FinishedAt.IsZero() {
			return st
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("job %d still running: %v (%+v)", jobID, e.ctx.Err(), st)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitFile polls until the job wrote path (the job is really running).
func (e *env) waitFile(path string) {
	e.t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("the job never wrote %s: %v", path, e.ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	must.NoError(t, err)
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func isNotFound(err error) bool { return errors.Is(err, executor.ErrNotFound) }
