package agent

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
)

// queueCopy is the job as the queue holds it, as a cycle hands it to
// dispatch.
func queueCopy(t *testing.T, a *Agent, id int64) *job.Job {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	j, ok := a.queue[id]
	must.True(t, ok, must.Sprintf("job %d is not queued", id))
	return j
}

func setHeld(t *testing.T, a *Agent, id int64, held bool) {
	t.Helper()
	_, _, err := a.mutate(context.Background(), id, func(j *job.Job) bool {
		j.Held = held
		return true
	})
	must.NoError(t, err)
}

// A dispatch records the job running from the queue's copy, without
// changing that copy (others read it under the lock).
func TestAdoptFrom_CurrentCopy(t *testing.T) {
	ex := fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30})
	a := agentOn(t, ex, nil)
	ctx := context.Background()
	sub, err := a.Submit(ctx, testUser(t, aliceUID), &api.JobSpec{Name: "x", Command: "true"})
	must.NoError(t, err)
	known := queueCopy(t, a, sub.ID)
	st, err := ex.Start(ctx, &executor.Task{JobID: sub.ID, Owner: aliceUID})
	must.NoError(t, err)

	a.adoptFrom(ctx, known, sub.ID, st)
	stored, err := a.store.Get(ctx, sub.ID)
	must.NoError(t, err)
	must.True(t, stored.Running())
	must.Eq(t, known.Version+1, stored.Version)
	must.Eq(t, st.ID, stored.Container.ID)
	must.True(t, known.Pending(), must.Sprint("the queue's copy is left as it was"))
	must.Nil(t, known.Container)
	must.Eq(t, 0, a.QueueLength())
}

// A copy that went stale while the container started (the job was held)
// must not be recorded running: the store's version decides, and the
// container is removed.
func TestAdoptFrom_StaleCopyHeld(t *testing.T) {
	ex := fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30})
	a := agentOn(t, ex, nil)
	ctx := context.Background()
	sub, err := a.Submit(ctx, testUser(t, aliceUID), &api.JobSpec{Name: "x", Command: "true"})
	must.NoError(t, err)
	known := queueCopy(t, a, sub.ID)
	st, err := ex.Start(ctx, &executor.Task{JobID: sub.ID, Owner: aliceUID})
	must.NoError(t, err)
	setHeld(t, a, sub.ID, true)

	a.adoptFrom(ctx, known, sub.ID, st)
	stored, err := a.store.Get(ctx, sub.ID)
	must.NoError(t, err)
	must.True(t, stored.Pending())
	must.True(t, stored.Held)
	must.Nil(t, stored.Container)
	_, err = ex.Inspect(ctx, sub.ID)
	must.ErrorIs(t, err, executor.ErrNotFound, must.Sprint("the container of a held job is removed"))
}

// A stale copy that would decline (held then) does not decide either: the
// job was released since, so the dispatch stands.
func TestAdoptFrom_StaleCopyDeclines(t *testing.T) {
	ex := fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30})
	a := agentOn(t, ex, nil)
	ctx := context.Background()
	sub, err := a.Submit(ctx, testUser(t, aliceUID), &api.JobSpec{Name: "x", Command: "true"})
	must.NoError(t, err)
	setHeld(t, a, sub.ID, true)
	known := queueCopy(t, a, sub.ID)
	setHeld(t, a, sub.ID, false)
	st, err := ex.Start(ctx, &executor.Task{JobID: sub.ID, Owner: aliceUID})
	must.NoError(t, err)

	a.adoptFrom(ctx, known, sub.ID, st)
	stored, err := a.store.Get(ctx, sub.ID)
	must.NoError(t, err)
	must.True(t, stored.Running())
	now, err := ex.Inspect(ctx, sub.ID)
	must.NoError(t, err)
	must.True(t, now.Running)
}

// writeFileNoFollow creates a new file, rewrites a regular one, and
// replaces whatever else is there without following it.
func TestWriteFileNoFollow(t *testing.T) {
	dir := t.TempDir()
	uid, gid := os.Geteuid(), os.Getegid()
	check := func(path, content string) {
		t.Helper()
		b, err := os.ReadFile(path)
		must.NoError(t, err)
		must.Eq(t, content, string(b))
		fi, err := os.Lstat(path)
		must.NoError(t, err)
		must.True(t, fi.Mode().IsRegular())
		must.Eq(t, os.FileMode(0o755), fi.Mode().Perm())
		must.Eq(t, uint32(uid), fi.Sys().(*syscall.Stat_t).Uid)
	}

	fresh := filepath.Join(dir, "fresh")
	must.NoError(t, writeFileNoFollow(fresh, []byte("one\n"), 0o755, uid, gid))
	check(fresh, "one\n")

	must.NoError(t, os.Chmod(fresh, 0o600))
	must.NoError(t, writeFileNoFollow(fresh, []byte("2\n"), 0o755, uid, gid))
	check(fresh, "2\n")

	target := filepath.Join(dir, "target")
	must.NoError(t, os.WriteFile(target, []byte("keep\n"), 0o644))
	link := filepath.Join(dir, "link")
	must.NoError(t, os.Symlink(target, link))
	must.NoError(t, writeFileNoFollow(link, []byte("three\n"), 0o755, uid, gid))
	check(link, "three\n")
	b, err := os.ReadFile(target)
	must.NoError(t, err)
	must.Eq(t, "keep\n", string(b), must.Sprint("the link's target is untouched"))

	fifo := filepath.Join(dir, "fifo")
	must.NoError(t, syscall.Mkfifo(fifo, 0o644))
	must.NoError(t, writeFileNoFollow(fifo, []byte("four\n"), 0o755, uid, gid))
	check(fifo, "four\n")
}
