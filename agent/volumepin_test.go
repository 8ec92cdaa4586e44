package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
)

// swapOnStart does, right before the engine call, what a user racing the
// dispatch would do between the agent's check of a path and the bind.
type swapOnStart struct {
	executor.Executor
	swap func()
}

func (s swapOnStart) Start(ctx context.Context, t *executor.Task) (*executor.State, error) {
	s.swap()
	return s.Executor.Start(ctx, t)
}

// volumeAttack is a volume whose path alice shapes (<base>/$USER/data),
// and a secret directory she must never get mounted instead.
type volumeAttack struct {
	data, secret string
}

func newVolumeAttack(t *testing.T) (volumeAttack, *config.Volume) {
	t.Helper()
	base := t.TempDir()
	must.NoError(t, os.Chmod(base, 0o755))
	mine := filepath.Join(base, "god-alice")
	v := volumeAttack{data: filepath.Join(mine, "data"), secret: filepath.Join(base, "secret")}
	for _, d := range []string{mine, v.data, v.secret} {
		must.NoError(t, os.Mkdir(d, 0o755))
	}
	must.NoError(t, os.WriteFile(filepath.Join(v.data, "f"), []byte("mine\n"), 0o644))
	must.NoError(t, os.WriteFile(filepath.Join(v.secret, "f"), []byte("SECRET\n"), 0o644))
	for _, p := range []string{mine, v.data, filepath.Join(v.data, "f")} {
		must.NoError(t, os.Chown(p, aliceUID, aliceUID))
	}
	return v, &config.Volume{Name: "scratch", Path: filepath.Join(base, "$USER", "data"), Mount: "/data"}
}

// swap puts a link to the secret where the checked directory was.
func (v volumeAttack) swap() {
	_ = os.Rename(v.data, v.data+".real")
	_ = os.Symlink(v.secret, v.data)
}

// unswap puts the directory back.
func (v volumeAttack) unswap() {
	_ = os.Remove(v.data)
	_ = os.Rename(v.data+".real", v.data)
}

// A directory swapped for a link after the agent checked the volume and
// before the engine binds it changes nothing: the engine binds the pinned
// directory. The control, without pinning, shows the swap would work.
func TestVolumes_SwapAfterCheckIsTooLate(t *testing.T) {
	needDocker(t)
	alice := testUser(t, aliceUID)
	for _, pinned := range []bool{true, false} {
		v, vol := newVolumeAttack(t)
		cfg := testConfig(t)
		cfg.Volumes = []*config.Volume{vol}
		must.NoError(t, cfg.Finalize())
		ta := runAgentWrapped(t, cfg, func(ex executor.Executor) executor.Executor { return swapOnStart{ex, v.swap} })
		if !pinned {
			ta.pins = nil // the control: what the agent did before
		}
		id := ta.submit(alice, api.JobSpec{Name: "swap", Command: "cat /data/f", Volumes: []string{"scratch"}})
		j := ta.waitOver(alice, id)
		out := ta.readJobFile(id, "god.log")
		if pinned {
			must.Eq(t, 0, exitCode(j), must.Sprint(j.Status.Reason))
			must.Eq(t, "mine\n", out, must.Sprint("the checked directory is what the job got"))
		} else {
			must.Eq(t, "SECRET\n", out, must.Sprint("without pinning the swap redirects the mount: the attack this test is about"))
		}
		ta.stop()
	}
}

// A user swapping the directory in a loop while jobs are dispatched never
// gets the secret mounted: each job either reads its own directory or is
// refused because its path went through a link.
func TestVolumes_SwapRace(t *testing.T) {
	v, vol := newVolumeAttack(t)
	ta := startAgent(t, func(c *config.Config) { c.Volumes = []*config.Volume{vol} })
	alice := testUser(t, aliceUID)
	// Held at submit (checked before the race), released while it runs.
	ids := make([]int64, 20)
	for i := range ids {
		ids[i] = ta.submit(alice, api.JobSpec{Name: "race", Command: "cat /data/f", Volumes: []string{"scratch"}, Hold: true, Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			v.swap()
			time.Sleep(time.Millisecond)
			v.unswap()
			time.Sleep(time.Millisecond)
		}
	})
	for _, id := range ids {
		_, err := ta.Release(context.Background(), alice, id)
		must.NoError(t, err)
	}
	var ran, refused int
	for _, id := range ids {
		j := ta.waitOver(alice, id)
		if exitCode(j) == 0 {
			ran++
			must.Eq(t, "mine\n", ta.readJobFile(id, "god.log"), must.Sprintf("job %d", id))
			continue
		}
		refused++
		must.Eq(t, api.SecondaryFailed, j.Status.Secondary, must.Sprintf("job %d: %s", id, j.Status.Reason))
		must.True(t, strings.Contains(j.Status.Reason, "link") || strings.Contains(j.Status.Reason, "changed") || strings.Contains(j.Status.Reason, "not available"),
			must.Sprintf("job %d refused for the swap: %s", id, j.Status.Reason))
		out, _ := os.ReadFile(filepath.Join(ta.jobDir(id), "god.log"))
		must.StrNotContains(t, string(out), "SECRET")
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d jobs read their own directory, %d were refused for the swap", ran, refused)
}
