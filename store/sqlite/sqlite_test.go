package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/sqlite"
	"github.com/godocker/god/store/storetest"
)

// Environment of the crash child: the test binary re-executed by TestCrash.
const (
	envChild        = "GOD_STORE_CHILD"         // data dir; set only in the child
	envChildWriters = "GOD_STORE_CHILD_WRITERS" // concurrent creating goroutines
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envChild); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func open(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(dir)
	must.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

// TestReopen: whatever was acknowledged before Close is there after Open,
// with the same versions.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, dir)
	var jobs []*job.Job
	for n := range 50 {
		j := storetest.NewJob(1000+n%2, n)
		must.NoError(t, s.Create(ctx, j))
		for range n % 4 { // versions 1 to 4
			j.Spec.Description += "+"
			j.Status.Primary = api.StateRunning
			must.NoError(t, s.Update(ctx, j))
		}
		jobs = append(jobs, j)
	}
	must.NoError(t, s.Close())

	for range 2 { // reopening twice changes nothing either
		s = open(t, dir)
		got, err := s.List(ctx, store.Filter{Ascending: true})
		must.NoError(t, err)
		must.Len(t, len(jobs), got)
		for i, want := range jobs {
			storetest.RequireSameJob(t, want, got[i])
			g, err := s.Get(ctx, want.ID)
			must.NoError(t, err)
			storetest.RequireSameJob(t, want, g)
		}
		running, err := s.List(ctx, store.Filter{States: []string{api.StateRunning}})
		must.NoError(t, err)
		must.Len(t, len(jobs)*3/4, running, must.Sprint("the state index survives too"))
		must.NoError(t, s.Close())
	}

	// Updates still check versions after reopening.
	s = open(t, dir)
	defer s.Close()
	stale := jobs[5].Clone()
	stale.Version--
	must.ErrorIs(t, s.Update(ctx, stale), store.ErrConflict)
	must.NoError(t, s.Update(ctx, jobs[5]))
}

// TestIDsNotReused: a reopened store continues after the highest id ever
// assigned.
func TestIDsNotReused(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	var last int64
	for round := range 3 {
		s := open(t, dir)
		for n := range 5 {
			j := storetest.NewJob(1000, 10*round+n)
			must.NoError(t, s.Create(ctx, j))
			must.Greater(t, last, j.ID, must.Sprintf("round %d", round))
			last = j.ID
		}
		must.NoError(t, s.Close())
	}
}

// TestCloseWithWritersInFlight: Close while writes are being submitted. Every
// write returns (none hangs); those that returned nil are durable; writes
// after Close fail.
func TestCloseWithWritersInFlight(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		s := open(t, dir)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			acked []int64
			count atomic.Int64
		)
		for w := range 32 {
			wg.Go(func() {
				for n := 0; ; n++ {
					j := storetest.NewJob(1000+w, n)
					if err := s.Create(context.Background(), j); err != nil {
						return
					}
					count.Add(1)
					mu.Lock()
					acked = append(acked, j.ID)
					mu.Unlock()
				}
			})
		}
		for count.Load() < int64(50+round*10) {
			time.Sleep(time.Millisecond)
		}
		must.NoError(t, s.Close())
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: writers still blocked 30s after Close", round)
		}
		must.Error(t, s.Create(t.Context(), storetest.NewJob(1, 1)), must.Sprint("create after close"))
		must.Error(t, s.Update(t.Context(), &job.Job{ID: acked[0], Version: 1}), must.Sprint("update after close"))

		s = open(t, dir)
		for _, id := range acked {
			_, err := s.Get(t.Context(), id)
			must.NoError(t, err, must.Sprintf("round %d: acknowledged job %d", round, id))
		}
		must.NoError(t, s.Close())
	}
}

// TestCrash: nothing acknowledged is lost when the process is killed with
// SIGKILL in the middle of a stream of writes, and ids are not reused after.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	for _, writers := range []int{1, 16} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			for round := range 3 {
				crashRound(t, writers, round)
			}
		})
	}
}

func crashRound(t *testing.T, writers, round int) {
	const killAfter = 200
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+dir, envChildWriters+"="+strconv.Itoa(writers))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must.NoError(t, err)
	must.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	acked := map[int64]string{} // id -> job name
	r := bufio.NewReader(out)
	read := func() bool {
		line, err := r.ReadString('\n')
		if err != nil {
			// EOF, possibly after a fragment the child was killed
			// while writing: a fragment is no acknowledgement.
			if err != io.EOF {
				t.Errorf("reading the child: %v", err)
			}
			return false
		}
		f := strings.Fields(line)
		must.SliceLen(t, 3, f, must.Sprintf("child line %q", line))
		must.EqOp(t, "ack", f[0])
		id, err := strconv.ParseInt(f[1], 10, 64)
		must.NoError(t, err)
		_, dup := acked[id]
		must.False(t, dup, must.Sprintf("id %d acknowledged twice", id))
		acked[id] = f[2]
		return true
	}
	for len(acked) < killAfter+round*37 {
		must.True(t, read(), must.Sprintf("child ended after %d acknowledgements", len(acked)))
	}
	must.NoError(t, cmd.Process.Kill())
	// The child may have acknowledged more before it died: those count too.
	for read() {
	}
	killed = true
	err = cmd.Wait()
	must.Error(t, err, must.Sprint("the child must die of the kill"))

	s := open(t, dir)
	defer s.Close()
	ctx := t.Context()
	var maxID int64
	for id, name := range acked {
		j, err := s.Get(ctx, id)
		must.NoError(t, err, must.Sprintf("acknowledged job %d lost across kill -9", id))
		must.EqOp(t, name, j.Spec.Name)
		must.EqOp(t, int64(1), j.Version)
		maxID = max(maxID, id)
	}
	all, err := s.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.GreaterEq(t, len(acked), len(all))
	t.Logf("%d writers: %d acknowledged, %d stored (the rest committed but not yet acknowledged)", writers, len(acked), len(all))

	j := storetest.NewJob(1, 1)
	must.NoError(t, s.Create(ctx, j))
	must.Greater(t, maxID, j.ID, must.Sprint("ids are not reused after a crash"))
	must.Greater(t, all[0].ID, j.ID)
}

// crashChild runs in the re-executed test binary: it creates jobs until
// killed, and prints "ack <id> <name>" once each Create has returned.
func crashChild(dir string) {
	writers, _ := strconv.Atoi(os.Getenv(envChildWriters))
	s, err := sqlite.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	// Stop by ourselves if the parent never kills us.
	time.AfterFunc(2*time.Minute, func() { os.Exit(3) })
	var mu sync.Mutex // one whole line per write(2)
	var wg sync.WaitGroup
	for w := range max(writers, 1) {
		wg.Go(func() {
			for n := 0; ; n++ {
				j := storetest.NewJob(1000+w, n)
				if err := s.Create(context.Background(), j); err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(2)
				}
				mu.Lock()
				// os.Stdout is unbuffered: the line is in the pipe
				// when Fprintf returns.
				fmt.Fprintf(os.Stdout, "ack %d %s\n", j.ID, j.Spec.Name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func BenchmarkCreateSerial(b *testing.B) {
	s, err := sqlite.Open(b.TempDir())
	must.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	n := 0
	for b.Loop() {
		if err := s.Create(ctx, storetest.NewJob(1000, n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "jobs/s")
}

func BenchmarkCreateParallel(b *testing.B) {
	s, err := sqlite.Open(b.TempDir())
	must.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	// 64 submitters per CPU: the agent's HTTP handlers under a burst.
	b.SetParallelism(64)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Create(ctx, storetest.NewJob(1000, int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// TestOpenUnusualDir: the database is inside the data dir whatever its name,
// even with characters that mean something in a file: URI.
func TestOpenUnusualDir(t *testing.T) {
	for _, name := range []string{"a#b", "a?b", "a%20b", "a%zz", "a b&c=d"} {
		base := t.TempDir()
		dir := filepath.Join(base, name)
		s := open(t, dir)
		j := storetest.NewJob(1000, 1)
		must.NoError(t, s.Create(t.Context(), j), must.Sprintf("dir %q", name))
		got, err := s.Get(t.Context(), j.ID)
		must.NoError(t, err)
		storetest.RequireSameJob(t, j, got)
		must.NoError(t, s.Close())
		must.FileExists(t, filepath.Join(dir, "god.db"), must.Sprintf("dir %q", name))
		entries, err := os.ReadDir(base)
		must.NoError(t, err)
		must.Len(t, 1, entries, must.Sprintf("dir %q: nothing created beside it", name))
	}
}

// One process (one Store) per data dir at a time.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(dir)
	must.NoError(t, err)
	_, err = sqlite.Open(dir)
	must.ErrorContains(t, err, "in use by another process")
	must.NoError(t, s.Close())
	s, err = sqlite.Open(dir)
	must.NoError(t, err)
	must.NoError(t, s.Close())
}
