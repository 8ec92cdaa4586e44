package agent

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/store/sqlite"
)

// racingStore lets another writer (another agent of the cluster) store a
// change to job raceID just before this agent's next Update of it.
type racingStore struct {
	*sqlite.Store
	mu     sync.Mutex
	raceID int64
	other  func(j *job.Job)
}

func (s *racingStore) Update(ctx context.Context, j *job.Job) error {
	s.mu.Lock()
	other := s.other
	if j.ID == s.raceID {
		s.other = nil
	}
	s.mu.Unlock()
	if other != nil && j.ID == s.raceID {
		cur, err := s.Store.Get(ctx, j.ID)
		if err != nil {
			return err
		}
		other(cur)
		if err := s.Store.Update(ctx, cur); err != nil {
			return err
		}
	}
	return s.Store.Update(ctx, j)
}

// syncBuf is a log output the test reads while the agent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuf) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestFinalize_LostRaceRecordsNothing: two watchers finalize the same job
// (a failover: the old owner and the new one); the one whose
// compare-and-set loses claims nothing (the e2e failover test counts the
// claims in the agents' logs),
// and the winner's exit code stands.
func TestFinalize_LostRaceRecordsNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.Socket = dir, filepath.Join(dir, "god.sock")
	must.NoError(t, cfg.Finalize())
	sq, err := sqlite.Open(filepath.Join(dir, "store"))
	must.NoError(t, err)
	t.Cleanup(func() { sq.Close() })
	rs := &racingStore{Store: sq}
	logs := &syncBuf{}
	log := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: logs})
	ex := fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30})
	a, err := New(cfg, Options{Store: rs, Executor: ex, Scheduler: fifo.Scheduler{}, Logger: log})
	must.NoError(t, err)
	ctx := context.Background()

	for _, tc := range []struct {
		name  string
		other func(j *job.Job) // nil: nobody races
		want  int
	}{
		{name: "another watcher wins", other: func(j *job.Job) { j.MarkOver(new(7), "", "", time.Now()) }, want: 7},
		{name: "alone", want: 0},
	} {
		sub, err := a.Submit(ctx, testUser(t, aliceUID), &api.JobSpec{Name: "x", Command: "true"})
		must.NoError(t, err)
		st, err := ex.Start(ctx, &executor.Task{JobID: sub.ID, Owner: aliceUID})
		must.NoError(t, err)
		a.adoptFrom(ctx, queueCopy(t, a, sub.ID), sub.ID, st)
		ex.Finish(sub.ID, 0)
		rs.mu.Lock()
		rs.raceID, rs.other = sub.ID, tc.other
		rs.mu.Unlock()

		a.finalizeHere(ctx, sub.ID)

		j, err := sq.Get(ctx, sub.ID)
		must.NoError(t, err)
		must.True(t, j.Over(), must.Sprint(tc.name))
		must.Eq(t, tc.want, *j.Status.ExitCode, must.Sprint(tc.name))
		claims := strings.Count(logs.String(), "recorded job end: job_id="+strconv.FormatInt(sub.ID, 10)+" ")
		if tc.other != nil {
			must.Eq(t, 0, claims, must.Sprintf("%s: the loser claims nothing:\n%s", tc.name, logs))
		} else {
			must.Eq(t, 1, claims, must.Sprintf("%s: the winner records the end once:\n%s", tc.name, logs))
		}
		_, err = ex.Inspect(ctx, sub.ID)
		must.ErrorIs(t, err, executor.ErrNotFound, must.Sprintf("%s: the container is removed either way", tc.name))
	}
}
