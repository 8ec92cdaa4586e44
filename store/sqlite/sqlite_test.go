package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
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
	envChildArray   = "GOD_STORE_CHILD_ARRAY"   // tasks per array; 0: single jobs
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

func TestRecordsConformance(t *testing.T) {
	storetest.RunRecords(t, func(t *testing.T) storetest.RecordStore { return open(t, t.TempDir()) })
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

// crashChild runs in the re-executed test binary: it creates jobs (or arrays
// of jobs) until killed, and prints "ack <id> <name>" once each Create (or
// CreateArray, with the parent's id and name) has returned.
func crashChild(dir string) {
	writers, _ := strconv.Atoi(os.Getenv(envChildWriters))
	arraySize, _ := strconv.Atoi(os.Getenv(envChildArray))
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
				var err error
				if arraySize > 0 {
					var tasks []*job.Job
					j, tasks = storetest.NewArray(1000+w, n, arraySize)
					err = s.CreateArray(context.Background(), j, tasks)
				} else {
					err = s.Create(context.Background(), j)
				}
				if err != nil {
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

// TestCrashArray: an array job and its tasks survive a kill -9 together or
// not at all, and an acknowledged array is complete.
func TestCrashArray(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	const size, writers = 500, 4
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"="+dir, envChildWriters+"="+strconv.Itoa(writers), envChildArray+"="+strconv.Itoa(size))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		must.NoError(t, err)
		must.NoError(t, cmd.Start())
		acked := map[int64]string{} // parent id -> name
		r := bufio.NewReader(out)
		read := func() bool {
			line, err := r.ReadString('\n')
			if err != nil {
				return false // EOF, maybe after a fragment: no acknowledgement
			}
			f := strings.Fields(line)
			must.SliceLen(t, 3, f, must.Sprintf("child line %q", line))
			id, err := strconv.ParseInt(f[1], 10, 64)
			must.NoError(t, err)
			acked[id] = f[2]
			return true
		}
		for len(acked) < 6+round*5 {
			if !read() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("child ended after %d acknowledgements", len(acked))
			}
		}
		must.NoError(t, cmd.Process.Kill())
		for read() {
		}
		must.Error(t, cmd.Wait(), must.Sprint("the child must die of the kill"))

		s := open(t, dir)
		ctx := t.Context()
		all, err := s.List(ctx, store.Filter{Ascending: true})
		must.NoError(t, err)
		parents := map[int64]*job.Job{}
		tasks := map[int64][]*job.Job{}
		for _, j := range all {
			if j.ParentID == 0 {
				must.NotNil(t, j.Array, must.Sprintf("job %d is neither parent nor task", j.ID))
				parents[j.ID] = j
			} else {
				tasks[j.ParentID] = append(tasks[j.ParentID], j)
			}
		}
		for pid := range tasks {
			_, ok := parents[pid]
			must.True(t, ok, must.Sprintf("tasks of array %d stored without it", pid))
		}
		for pid, p := range parents {
			ts := tasks[pid]
			must.Len(t, size, ts, must.Sprintf("array %d stored incomplete", pid))
			for i, tk := range ts {
				must.EqOp(t, p.Array.First+i, tk.TaskID, must.Sprintf("array %d, task %d", pid, i))
				must.EqOp(t, pid+1+int64(i), tk.ID, must.Sprintf("array %d: its ids are contiguous", pid))
			}
			listed, err := s.List(ctx, store.Filter{ParentID: pid, Ascending: true})
			must.NoError(t, err)
			must.Len(t, size, listed)
		}
		for id, name := range acked {
			p, ok := parents[id]
			must.True(t, ok, must.Sprintf("acknowledged array %d lost across kill -9", id))
			must.EqOp(t, name, p.Spec.Name)
		}
		t.Logf("round %d: %d arrays acknowledged, %d stored", round, len(acked), len(parents))
		must.NoError(t, s.Close())
	}
}

// oldSchema is the schema of the first release, without parent and ended.
const oldSchema = `
CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, uid INTEGER NOT NULL, state TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX jobs_state ON jobs(state, id);
CREATE INDEX jobs_uid ON jobs(uid, id);
`

// oldStore creates a store of the old schema holding jobs (whose ID and
// Version are stored as given), as the previous release left it.
func oldStore(t *testing.T, jobs []*job.Job, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "god.db"))
	must.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(oldSchema)
	must.NoError(t, err)
	for _, j := range jobs {
		data, err := json.Marshal(j)
		must.NoError(t, err)
		_, err = db.Exec("INSERT INTO jobs(id, uid, state, version, data) VALUES (?, ?, ?, ?, ?)", j.ID, j.User.UID, j.Status.Primary, j.Version, data)
		must.NoError(t, err)
	}
	for _, q := range extra {
		_, err = db.Exec(q)
		must.NoError(t, err)
	}
	return dir
}

func columns(t *testing.T, dir string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "god.db"))
	must.NoError(t, err)
	defer db.Close()
	rows, err := db.Query("SELECT name FROM pragma_table_info('jobs') UNION ALL SELECT name FROM pragma_index_list('jobs') ORDER BY 1")
	must.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		must.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	must.NoError(t, rows.Err())
	return out
}

func idsOf(jobs []*job.Job) []int64 {
	out := []int64{}
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

// TestMigrate: a store created by the first schema opens, gains the parent
// and ended columns filled from its jobs and the submit_key column, and
// keeps every job intact.
func TestMigrate(t *testing.T) {
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	over := storetest.NewJob(1000, 1)
	over.ID, over.Version = 1, 3
	over.MarkOver(new(2), api.SecondaryFailed, "exit code 2", base)
	parent, tasks := storetest.NewArray(1000, 0, 3)
	parent.ID, parent.Version = 2, 1
	for i, tk := range tasks {
		tk.ID, tk.Version, tk.ParentID = int64(3+i), 1, parent.ID
	}
	tasks[1].Version = 2
	tasks[1].MarkOver(new(0), "", "", base.Add(-time.Hour))
	tasks[2].Version = 2
	tasks[2].MarkRunning(api.Container{Executor: "docker", ID: "c"}, base)
	single := storetest.NewJob(1001, 9)
	single.ID, single.Version = 6, 1
	jobs := []*job.Job{over, parent, tasks[0], tasks[1], tasks[2], single}
	// Job 7 was created and purged: ids go on from 8.
	dir := oldStore(t, jobs, "INSERT INTO jobs(id, uid, state, version, data) VALUES (7, 1, 'over', 1, '{}')", "DELETE FROM jobs WHERE id = 7")
	must.SliceNotContains(t, columns(t, dir), "parent")

	for reopen := range 2 { // the second Open has nothing to migrate
		s := open(t, dir)
		for _, want := range jobs {
			got, err := s.Get(ctx, want.ID)
			must.NoError(t, err)
			storetest.RequireSameJob(t, want, got)
		}
		all, err := s.List(ctx, store.Filter{Ascending: true})
		must.NoError(t, err)
		must.SliceLen(t, len(jobs), all)
		got, err := s.List(ctx, store.Filter{ParentID: parent.ID, Ascending: true})
		must.NoError(t, err)
		must.SliceLen(t, 3, got)
		for i, g := range got {
			storetest.RequireSameJob(t, tasks[i], g)
		}
		// Ended to the nanosecond: over ended at base exactly.
		for _, at := range []time.Time{base.Add(-3 * time.Hour), base.Add(-time.Hour), base.Add(-time.Hour + 1), base, base.Add(1), base.Add(time.Hour)} {
			want := []int64{}
			for _, j := range jobs {
				if j.Dates.Ended != nil && j.Dates.Ended.Before(at) {
					want = append(want, j.ID)
				}
			}
			got, err = s.List(ctx, store.Filter{EndedBefore: at, Ascending: true})
			must.NoError(t, err)
			must.Eq(t, want, idsOf(got), must.Sprintf("reopen %d: ended before %v", reopen, at))
		}
		got, err = s.List(ctx, store.Filter{ParentID: parent.ID, States: []string{api.StateOver}, EndedBefore: base.Add(time.Hour), Ascending: true})
		must.NoError(t, err)
		want := []int64{tasks[1].ID}
		if reopen == 1 {
			want = []int64{tasks[0].ID, tasks[1].ID}
		}
		must.Eq(t, want, idsOf(got))
		if reopen == 1 {
			keyed, err := s.GetBySubmitKey(ctx, "1002:after-migration")
			must.NoError(t, err)
			must.EqOp(t, int64(8), keyed.ID)
		}

		if reopen == 0 {
			// The migrated store works like a new one.
			j := storetest.NewJob(1002, 1)
			j.SubmitKey = "1002:after-migration"
			must.NoError(t, s.Create(ctx, j))
			must.EqOp(t, int64(8), j.ID)
			tasks[0].MarkOver(new(0), "", "", base.Add(-2*time.Hour))
			must.NoError(t, s.Update(ctx, tasks[0]))
			single.MarkOver(new(0), "", "", base.Add(-3*time.Hour))
			must.NoError(t, s.Update(ctx, single))
			jobs = append(jobs, j)
		}
		must.NoError(t, s.Close())
	}
	cols := columns(t, dir)
	for _, c := range []string{"parent", "ended", "submit_key", "jobs_parent", "jobs_ended", "jobs_state", "jobs_uid", "jobs_submit_key"} {
		must.SliceContains(t, cols, c)
	}
}

// TestMigrateFails: a store that cannot be migrated is not opened, and is
// left as it was.
func TestMigrateFails(t *testing.T) {
	j := storetest.NewJob(1000, 1)
	j.ID, j.Version = 1, 1
	j.MarkOver(new(0), "", "", time.Now())
	dir := oldStore(t, []*job.Job{j}, "INSERT INTO jobs(id, uid, state, version, data) VALUES (2, 1, 'over', 1, 'not json')")
	before := columns(t, dir)
	_, err := sqlite.Open(dir)
	must.ErrorContains(t, err, "decoding job 2")
	must.Eq(t, before, columns(t, dir), must.Sprint("a failed migration changes nothing"))
}

func BenchmarkCreateArray10000(b *testing.B) {
	s, err := sqlite.Open(b.TempDir())
	must.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	n := 0
	for b.Loop() {
		parent, tasks := storetest.NewArray(1000, n, 10000)
		if err := s.CreateArray(ctx, parent, tasks); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*10000)/b.Elapsed().Seconds(), "tasks/s")
}

// TestIdentity: a new store gets a random identity that it keeps across
// reopens; a store of an older release gets one at its first open, with
// its jobs so far (up to the last id assigned, purged ones included) as
// legacy.
func TestIdentity(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ident := s.Identity()
	must.NoError(t, ident.Check())
	must.Zero(t, ident.LegacyMaxJob, must.Sprint("a new store has no legacy jobs"))
	must.NoError(t, s.Create(t.Context(), storetest.NewJob(1000, 1)))
	must.NoError(t, s.Close())
	s = open(t, dir)
	must.Eq(t, ident, s.Identity(), must.Sprint("kept across reopens"))
	must.NoError(t, s.Close())
	another := open(t, t.TempDir())
	must.NotEq(t, ident.ID, another.Identity().ID, must.Sprint("another store, another id"))
	must.NoError(t, another.Close())

	j := storetest.NewJob(1000, 1)
	j.ID, j.Version = 1, 1
	old := oldStore(t, []*job.Job{j}, "INSERT INTO jobs(id, uid, state, version, data) VALUES (7, 1, 'over', 1, '{}')", "DELETE FROM jobs WHERE id = 7")
	s = open(t, old)
	migrated := s.Identity()
	must.NoError(t, migrated.Check())
	must.Eq(t, int64(7), migrated.LegacyMaxJob)
	must.True(t, migrated.Legacy(7))
	n := storetest.NewJob(1000, 2)
	must.NoError(t, s.Create(t.Context(), n))
	must.False(t, migrated.Legacy(n.ID), must.Sprint("jobs created since have the new naming"))
	must.NoError(t, s.Close())
	s = open(t, old)
	must.Eq(t, migrated, s.Identity())
	must.NoError(t, s.Close())
}
