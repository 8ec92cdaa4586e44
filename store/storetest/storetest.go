// Package storetest is the conformance suite that every store.Store
// implementation must pass: the embedded SQLite store and the shared Redis
// store run it. It checks the contract of store.Store as the agent
// relies on it: id assignment, optimistic concurrency on Version, List
// filters and order, and correctness under concurrent writers.
//
// An implementation's test calls Run with a function that opens a new, empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := mystore.Open(t.TempDir())
//			must.NoError(t, err)
//			return s
//		})
//	}
//
// Run closes every store it opens (Close is called exactly once per store).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/store"
)

// Sizes of the concurrency subtests.
const (
	// createWorkers goroutines each create createsPerWorker jobs.
	createWorkers    = 32
	createsPerWorker = 63 // 2016 jobs
	// updateWorkers goroutines each increment one shared counter
	// incrementsPerWorker times with read-modify-write-retry.
	updateWorkers       = 16
	incrementsPerWorker = 20
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateGet", testCreateGet},
		{"GetMissing", testGetMissing},
		{"Update", testUpdate},
		{"UpdateStale", testUpdateStale},
		{"UpdateMissing", testUpdateMissing},
		{"List", testList},
		{"ConcurrentCreate", testConcurrentCreate},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"BatchPartialFailure", testBatchPartialFailure},
		{"CreateArray", testCreateArray},
		{"CreateArrayCanceled", testCreateArrayCanceled},
		{"CreateArrayFailure", testCreateArrayFailure},
		{"CreateArrayLarge", testCreateArrayLarge},
		{"ConcurrentCreateArray", testConcurrentCreateArray},
		{"Delete", testDelete},
		{"ListEndedBefore", testListEndedBefore},
		{"ListCombined", testListCombined},
		{"SubmitKey", testSubmitKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { must.NoError(t, s.Close()) })
			tc.fn(t, s)
		})
	}
}

// NewJob returns a pending job with every stored field set to a non-zero
// value, distinguished by uid and n.
func NewJob(uid, n int) *job.Job {
	submitted := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 5400)).Add(time.Duration(n) * time.Second)
	return &job.Job{
		Spec: api.JobSpec{
			Name:        fmt.Sprintf("job-%d-%d", uid, n),
			Description: "0",
			Image:       "debian:stable",
			Command:     fmt.Sprintf("echo %d", n),
			Resources:   &api.Resources{CPU: 0.5, Memory: "512MiB"},
			Volumes:     []string{"home", "omaha"},
			Env:         map[string]string{"N": strconv.Itoa(n), "É": "ünïcode"},
			Tags:        []string{"a", "b"},
		},
		User: api.User{
			Name:   fmt.Sprintf("user%d", uid),
			UID:    uid,
			GID:    uid + 1,
			Groups: []int{uid + 1, 27},
			Home:   fmt.Sprintf("/home/user%d", uid),
		},
		Status: api.Status{Primary: api.StatePending},
		Dates:  api.Dates{Submitted: submitted},
		CPU:    0.5,
		Memory: 512 << 20,
		JobDir: fmt.Sprintf("/var/lib/god/jobs/%d", n),
	}
}

// RequireSameJob fails t unless got holds the same stored data as want: id,
// version and every JSON field (times are compared as instants, pointers by
// the values they point to).
func RequireSameJob(t testing.TB, want, got *job.Job) {
	t.Helper()
	must.NotNil(t, got)
	must.EqOp(t, want.ID, got.ID, must.Sprint("id"))
	must.EqOp(t, want.Version, got.Version, must.Sprintf("version of job %d", want.ID))
	must.Eq(t, want.Spec, got.Spec, must.Sprintf("spec of job %d", want.ID))
	must.Eq(t, want.User, got.User, must.Sprintf("user of job %d", want.ID))
	must.EqOp(t, want.Status.Primary, got.Status.Primary, must.Sprintf("status of job %d", want.ID))
	must.EqOp(t, want.Status.Secondary, got.Status.Secondary, must.Sprintf("secondary status of job %d", want.ID))
	must.EqOp(t, want.Status.Reason, got.Status.Reason, must.Sprintf("status reason of job %d", want.ID))
	if want.Status.ExitCode == nil {
		must.Nil(t, got.Status.ExitCode, must.Sprintf("exit code of job %d", want.ID))
	} else {
		must.NotNil(t, got.Status.ExitCode, must.Sprintf("exit code of job %d", want.ID))
		must.EqOp(t, *want.Status.ExitCode, *got.Status.ExitCode, must.Sprintf("exit code of job %d", want.ID))
	}
	requireSameTime(t, "submitted", want.ID, &want.Dates.Submitted, &got.Dates.Submitted)
	requireSameTime(t, "started", want.ID, want.Dates.Started, got.Dates.Started)
	requireSameTime(t, "ended", want.ID, want.Dates.Ended, got.Dates.Ended)
	must.EqOp(t, want.CPU, got.CPU, must.Sprintf("cpu of job %d", want.ID))
	must.EqOp(t, want.Memory, got.Memory, must.Sprintf("memory of job %d", want.ID))
	must.EqOp(t, want.JobDir, got.JobDir, must.Sprintf("job dir of job %d", want.ID))
	must.Eq(t, want.Container, got.Container, must.Sprintf("container of job %d", want.ID))
	must.EqOp(t, want.KillRequested, got.KillRequested, must.Sprintf("kill requested of job %d", want.ID))
	must.EqOp(t, want.ParentID, got.ParentID, must.Sprintf("parent of job %d", want.ID))
	must.EqOp(t, want.TaskID, got.TaskID, must.Sprintf("task id of job %d", want.ID))
	must.Eq(t, want.Array, got.Array, must.Sprintf("array of job %d", want.ID))
	must.EqOp(t, want.Held, got.Held, must.Sprintf("held of job %d", want.ID))
	must.EqOp(t, want.HeldBy, got.HeldBy, must.Sprintf("held by of job %d", want.ID))
}

func requireSameTime(t testing.TB, what string, id int64, want, got *time.Time) {
	t.Helper()
	if want == nil {
		must.Nil(t, got, must.Sprintf("%s date of job %d", what, id))
		return
	}
	must.NotNil(t, got, must.Sprintf("%s date of job %d", what, id))
	must.True(t, want.Equal(*got), must.Sprintf("%s date of job %d: want %v, got %v", what, id, *want, *got))
}

func testCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	var jobs []*job.Job
	for n := range 5 {
		j := NewJob(1000, n)
		must.NoError(t, s.Create(ctx, j))
		must.Positive(t, j.ID, must.Sprint("assigned id"))
		must.EqOp(t, int64(1), j.Version, must.Sprint("version of a new job"))
		if len(jobs) > 0 {
			must.Greater(t, jobs[len(jobs)-1].ID, j.ID, must.Sprint("ids increase"))
		}
		jobs = append(jobs, j)
	}
	// A job with more fields set, as after it ran.
	j := NewJob(1001, 99)
	j.Status = api.Status{Primary: api.StateOver, Secondary: api.SecondaryFailed, Reason: "exit code 2", ExitCode: new(2)}
	started, ended := time.Now(), time.Now().Add(time.Minute).UTC()
	j.Dates.Started, j.Dates.Ended = &started, &ended
	j.Container = &api.Container{Executor: "docker", ID: "c0ffee", Name: "god-99", Node: "node1"}
	j.KillRequested = true
	must.NoError(t, s.Create(ctx, j))
	must.Greater(t, jobs[len(jobs)-1].ID, j.ID, must.Sprint("ids increase"))
	jobs = append(jobs, j)

	for _, want := range jobs {
		got, err := s.Get(ctx, want.ID)
		must.NoError(t, err)
		RequireSameJob(t, want, got)
	}

	// An exit code of 0 is a value, not an absence.
	z := NewJob(1000, 100)
	z.Status = api.Status{Primary: api.StateOver, ExitCode: new(0)}
	must.NoError(t, s.Create(ctx, z))
	got, err := s.Get(ctx, z.ID)
	must.NoError(t, err)
	RequireSameJob(t, z, got)
}

func testGetMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []int64{0, 1, 12345} {
		_, err := s.Get(ctx, id)
		must.ErrorIs(t, err, store.ErrNotFound, must.Sprintf("get %d in an empty store", id))
	}
	j := NewJob(1000, 1)
	must.NoError(t, s.Create(ctx, j))
	_, err := s.Get(ctx, j.ID+1)
	must.ErrorIs(t, err, store.ErrNotFound)
}

func testUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := NewJob(1000, 1)
	must.NoError(t, s.Create(ctx, j))
	other := NewJob(1000, 2)
	must.NoError(t, s.Create(ctx, other))

	cur, err := s.Get(ctx, j.ID)
	must.NoError(t, err)
	cur.MarkRunning(api.Container{Executor: "docker", ID: "abc", Name: "god-1"}, time.Now())
	must.NoError(t, s.Update(ctx, cur))
	must.EqOp(t, int64(2), cur.Version, must.Sprint("version after one update"))
	got, err := s.Get(ctx, j.ID)
	must.NoError(t, err)
	RequireSameJob(t, cur, got)

	got.MarkOver(new(0), "", "", time.Now())
	must.NoError(t, s.Update(ctx, got))
	must.EqOp(t, int64(3), got.Version, must.Sprint("version after two updates"))
	again, err := s.Get(ctx, j.ID)
	must.NoError(t, err)
	RequireSameJob(t, got, again)

	// The other job is untouched.
	o, err := s.Get(ctx, other.ID)
	must.NoError(t, err)
	RequireSameJob(t, other, o)
}

func testUpdateStale(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := NewJob(1000, 1)
	must.NoError(t, s.Create(ctx, j))
	a, err := s.Get(ctx, j.ID)
	must.NoError(t, err)
	b, err := s.Get(ctx, j.ID)
	must.NoError(t, err)

	a.Status.Primary = api.StateRunning
	a.Spec.Description = "from a"
	must.NoError(t, s.Update(ctx, a))

	b.Status.Primary = api.StateOver
	b.Spec.Description = "from b"
	b.KillRequested = true
	err = s.Update(ctx, b)
	must.ErrorIs(t, err, store.ErrConflict)
	must.EqOp(t, int64(1), b.Version, must.Sprint("a failed update leaves the caller's version alone"))

	got, err := s.Get(ctx, j.ID)
	must.NoError(t, err)
	RequireSameJob(t, a, got)

	// A version from the future conflicts too.
	c := got.Clone()
	c.Version += 5
	must.ErrorIs(t, s.Update(ctx, c), store.ErrConflict)
	got2, err := s.Get(ctx, j.ID)
	must.NoError(t, err)
	RequireSameJob(t, a, got2)

	// The stale writer re-reads and succeeds.
	b = got2.Clone()
	b.Spec.Description = "from b"
	must.NoError(t, s.Update(ctx, b))
	must.EqOp(t, int64(3), b.Version)
}

func testUpdateMissing(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := NewJob(1000, 1)
	j.ID, j.Version = 4242, 1
	must.ErrorIs(t, s.Update(ctx, j), store.ErrNotFound)
	must.EqOp(t, int64(1), j.Version)

	must.NoError(t, s.Create(ctx, NewJob(1000, 2)))
	k := NewJob(1000, 3)
	must.NoError(t, s.Create(ctx, k))
	missing := k.Clone()
	missing.ID = k.ID + 1000
	must.ErrorIs(t, s.Update(ctx, missing), store.ErrNotFound)
	_, err := s.Get(ctx, missing.ID)
	must.ErrorIs(t, err, store.ErrNotFound, must.Sprint("a failed update creates nothing"))
}

func ids(jobs []*job.Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

func testList(t *testing.T, s store.Store) {
	ctx := t.Context()
	// 12 jobs: uid 1000, 1001, 1002 in turn; states pending, running, over,
	// archived in turn.
	states := []string{api.StatePending, api.StateRunning, api.StateOver, api.StateArchived}
	byID := map[int64]*job.Job{}
	var all []int64
	for n := range 12 {
		j := NewJob(1000+n%3, n)
		must.NoError(t, s.Create(ctx, j))
		if st := states[n%4]; st != api.StatePending {
			// Reach the state through Update so that List sees updated
			// states, not only those at creation.
			j.Status.Primary = st
			must.NoError(t, s.Update(ctx, j))
		}
		byID[j.ID] = j
		all = append(all, j.ID)
	}
	want := func(keep func(*job.Job) bool, ascending bool, limit int) []int64 {
		out := []int64{}
		for _, id := range all {
			if keep(byID[id]) {
				out = append(out, id)
			}
		}
		if !ascending {
			slices.Reverse(out)
		}
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return out
	}
	uid := func(u int) *int { return &u }
	anyJob := func(*job.Job) bool { return true }
	cases := []struct {
		name string
		f    store.Filter
		keep func(*job.Job) bool
	}{
		{"all", store.Filter{}, anyJob},
		{"uid", store.Filter{UID: uid(1001)}, func(j *job.Job) bool { return j.User.UID == 1001 }},
		{"uid none", store.Filter{UID: uid(4242)}, func(*job.Job) bool { return false }},
		{"one state", store.Filter{States: []string{api.StateRunning}}, func(j *job.Job) bool { return j.Running() }},
		{"states", store.Filter{States: []string{api.StatePending, api.StateOver}}, func(j *job.Job) bool { return j.Pending() || j.Status.Primary == api.StateOver }},
		{"three states", store.Filter{States: []string{api.StateArchived, api.StateRunning, api.StateOver}}, func(j *job.Job) bool { return !j.Pending() }},
		{"unknown state", store.Filter{States: []string{"nope"}}, func(*job.Job) bool { return false }},
		{"uid and states", store.Filter{UID: uid(1000), States: []string{api.StatePending, api.StateRunning}}, func(j *job.Job) bool {
			return j.User.UID == 1000 && (j.Pending() || j.Running())
		}},
		{"before id", store.Filter{BeforeID: all[7]}, func(j *job.Job) bool { return j.ID < all[7] }},
		{"before the first id", store.Filter{BeforeID: all[0]}, func(*job.Job) bool { return false }},
		{"uid, before id", store.Filter{UID: uid(1000), BeforeID: all[9]}, func(j *job.Job) bool {
			return j.User.UID == 1000 && j.ID < all[9]
		}},
		{"states, before id", store.Filter{States: []string{api.StatePending, api.StateOver}, BeforeID: all[10]}, func(j *job.Job) bool {
			return (j.Pending() || j.Status.Primary == api.StateOver) && j.ID < all[10]
		}},
	}
	for _, c := range cases {
		for _, asc := range []bool{false, true} {
			for _, limit := range []int{0, 1, 2, 100} {
				f := c.f
				f.Ascending, f.Limit = asc, limit
				got, err := s.List(ctx, f)
				must.NoError(t, err)
				must.Eq(t, want(c.keep, asc, limit), ids(got), must.Sprintf("%s, ascending=%v, limit=%d", c.name, asc, limit))
				for _, g := range got {
					RequireSameJob(t, byID[g.ID], g)
				}
			}
		}
	}

	// Order is by id, newest first by default, whatever the update order.
	first := byID[all[0]]
	first.Spec.Description = "touched last"
	must.NoError(t, s.Update(ctx, first))
	got, err := s.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.Eq(t, want(anyJob, false, 0), ids(got))
	must.EqOp(t, first.ID, got[len(got)-1].ID)
	RequireSameJob(t, first, got[len(got)-1])

	got, err = s.List(ctx, store.Filter{Ascending: true, Limit: 3})
	must.NoError(t, err)
	must.Eq(t, all[:3], ids(got), must.Sprint("the scheduler's view: oldest first"))

	// Paging newest first, as the agent lists jobs: each page starts below
	// the last id of the one before.
	var paged []int64
	f := store.Filter{Limit: 5}
	for range len(all) {
		got, err := s.List(ctx, f)
		must.NoError(t, err)
		paged = append(paged, ids(got)...)
		if len(got) < f.Limit {
			break
		}
		f.BeforeID = got[len(got)-1].ID
	}
	must.Eq(t, want(anyJob, false, 0), paged, must.Sprint("pages of 5, newest first"))
}

// errs collects errors from goroutines, which must not call t.Fatal.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) add(err error) {
	e.mu.Lock()
	e.list = append(e.list, err)
	e.mu.Unlock()
}

func (e *errs) check(t *testing.T) {
	t.Helper()
	must.NoError(t, errors.Join(e.list...))
}

func testConcurrentCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	var (
		wg      sync.WaitGroup
		errs    errs
		mu      sync.Mutex
		created = map[int64]*job.Job{}
	)
	start := make(chan struct{})
	for w := range createWorkers {
		wg.Go(func() {
			<-start
			var last int64
			for n := range createsPerWorker {
				j := NewJob(2000+w, n)
				if err := s.Create(ctx, j); err != nil {
					errs.add(fmt.Errorf("worker %d, create %d: %w", w, n, err))
					return
				}
				if j.Version != 1 || j.ID <= last {
					errs.add(fmt.Errorf("worker %d: create %d got id %d version %d after id %d", w, n, j.ID, j.Version, last))
				}
				last = j.ID
				mu.Lock()
				if prev, dup := created[j.ID]; dup {
					errs.add(fmt.Errorf("id %d assigned to both %s and %s", j.ID, prev.Spec.Name, j.Spec.Name))
				}
				created[j.ID] = j
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	errs.check(t)
	must.MapLen(t, createWorkers*createsPerWorker, created)

	got, err := s.List(ctx, store.Filter{Ascending: true})
	must.NoError(t, err)
	must.Len(t, createWorkers*createsPerWorker, got)
	for _, g := range got {
		want, ok := created[g.ID]
		must.True(t, ok, must.Sprintf("listed job %d was not created", g.ID))
		RequireSameJob(t, want, g)
	}
	// One worker's jobs, in its creation order.
	w := 2000 + createWorkers/2
	mine, err := s.List(ctx, store.Filter{UID: &w, Ascending: true})
	must.NoError(t, err)
	must.Len(t, createsPerWorker, mine)
	for n, j := range mine {
		must.EqOp(t, fmt.Sprintf("job-%d-%d", w, n), j.Spec.Name)
	}
}

// increment adds one to the counter kept in j.Spec.Description the way the
// agent changes jobs: read, modify, Update, and on ErrConflict start over.
func increment(ctx context.Context, s store.Store, id int64) (conflicts int, err error) {
	for {
		j, err := s.Get(ctx, id)
		if err != nil {
			return conflicts, err
		}
		n, err := strconv.Atoi(j.Spec.Description)
		if err != nil {
			return conflicts, fmt.Errorf("job %d: counter %q: %w", id, j.Spec.Description, err)
		}
		j.Spec.Description = strconv.Itoa(n + 1)
		j.Spec.Tags = append(j.Spec.Tags, "x")
		before := j.Version
		err = s.Update(ctx, j)
		switch {
		case err == nil:
			if j.Version != before+1 {
				return conflicts, fmt.Errorf("job %d: update took version %d to %d", id, before, j.Version)
			}
			return conflicts, nil
		case errors.Is(err, store.ErrConflict):
			if j.Version != before {
				return conflicts, fmt.Errorf("job %d: failed update changed version %d to %d", id, before, j.Version)
			}
			conflicts++
		default:
			return conflicts, err
		}
	}
}

func testConcurrentUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	j := NewJob(1000, 1)
	j.Spec.Tags = nil
	must.NoError(t, s.Create(ctx, j))
	// A bystander job that nobody updates.
	by := NewJob(1000, 2)
	must.NoError(t, s.Create(ctx, by))

	var (
		wg        sync.WaitGroup
		errs      errs
		mu        sync.Mutex
		conflicts int
	)
	start := make(chan struct{})
	for w := range updateWorkers {
		wg.Go(func() {
			<-start
			for i := range incrementsPerWorker {
				c, err := increment(ctx, s, j.ID)
				mu.Lock()
				conflicts += c
				mu.Unlock()
				if err != nil {
					errs.add(fmt.Errorf("worker %d, increment %d: %w", w, i, err))
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	errs.check(t)

	const total = updateWorkers * incrementsPerWorker
	got, err := s.Get(ctx, j.ID)
	must.NoError(t, err)
	must.EqOp(t, strconv.Itoa(total), got.Spec.Description, must.Sprint("no increment is lost"))
	must.Len(t, total, got.Spec.Tags, must.Sprint("no append is lost"))
	must.EqOp(t, int64(1+total), got.Version, must.Sprint("each successful update bumps the version by exactly one"))
	t.Logf("%d increments, %d conflicts retried", total, conflicts)

	b, err := s.Get(ctx, by.ID)
	must.NoError(t, err)
	RequireSameJob(t, by, b)
}

// testBatchPartialFailure submits failing updates (stale and missing) at the
// same moment as successful creates and updates, so that a store that groups
// writes puts them in the same batch: only the failing ones may fail.
func testBatchPartialFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	const rounds, creators, updaters = 10, 24, 8

	for r := range rounds {
		// A job whose copy is stale, and jobs that get valid updates.
		victim := NewJob(1000, r)
		must.NoError(t, s.Create(ctx, victim))
		stale := victim.Clone()
		victim.Status.Primary = api.StateRunning
		victim.Spec.Description = "winner"
		must.NoError(t, s.Update(ctx, victim))
		var targets []*job.Job
		for i := range updaters {
			tj := NewJob(1001, 100*r+i)
			must.NoError(t, s.Create(ctx, tj))
			targets = append(targets, tj)
		}

		var (
			wg        sync.WaitGroup
			errs      errs
			mu        sync.Mutex
			created   []*job.Job
			staleErr  error
			missErr   error
			missingID = victim.ID + 1_000_000
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			st := stale.Clone()
			st.Status.Primary = api.StateOver
			st.Spec.Description = "loser"
			staleErr = s.Update(ctx, st)
		})
		wg.Go(func() {
			<-start
			m := stale.Clone()
			m.ID = missingID
			missErr = s.Update(ctx, m)
		})
		for i := range creators {
			wg.Go(func() {
				<-start
				j := NewJob(1002, 1000*r+i)
				if err := s.Create(ctx, j); err != nil {
					errs.add(fmt.Errorf("round %d: create %d next to a failing update: %w", r, i, err))
					return
				}
				mu.Lock()
				created = append(created, j)
				mu.Unlock()
			})
		}
		for _, tj := range targets {
			wg.Go(func() {
				<-start
				tj.Status.Primary = api.StateRunning
				if err := s.Update(ctx, tj); err != nil {
					errs.add(fmt.Errorf("round %d: update of job %d next to a failing update: %w", r, tj.ID, err))
				}
			})
		}
		close(start)
		wg.Wait()
		errs.check(t)
		must.ErrorIs(t, staleErr, store.ErrConflict, must.Sprintf("round %d: stale update", r))
		must.ErrorIs(t, missErr, store.ErrNotFound, must.Sprintf("round %d: update of a missing job", r))

		got, err := s.Get(ctx, victim.ID)
		must.NoError(t, err)
		RequireSameJob(t, victim, got)
		_, err = s.Get(ctx, missingID)
		must.ErrorIs(t, err, store.ErrNotFound)
		for _, j := range created {
			g, err := s.Get(ctx, j.ID)
			must.NoError(t, err)
			RequireSameJob(t, j, g)
		}
		for _, tj := range targets {
			must.EqOp(t, int64(2), tj.Version)
			g, err := s.Get(ctx, tj.ID)
			must.NoError(t, err)
			RequireSameJob(t, tj, g)
		}
	}
}

// NewArray returns an array parent and its n tasks (task ids first, first+1,
// ...), as the agent builds them before CreateArray.
func NewArray(uid, first, n int) (*job.Job, []*job.Job) {
	parent := NewJob(uid, first)
	parent.Spec.Name += "-array"
	parent.Array = &job.Array{First: first, Last: first + n - 1, Step: 1, Throttle: 3}
	tasks := make([]*job.Job, n)
	for i := range tasks {
		t := NewJob(uid, first+i)
		t.Spec.Name = fmt.Sprintf("%s[%d]", parent.Spec.Name, first+i)
		t.TaskID = first + i
		tasks[i] = t
	}
	return parent, tasks
}

// requireArrayCreated checks what a successful CreateArray did to the
// caller's jobs, and then that the store holds them.
func requireArrayCreated(t *testing.T, s store.Store, parent *job.Job, tasks []*job.Job) {
	t.Helper()
	must.Positive(t, parent.ID, must.Sprint("parent id"))
	must.EqOp(t, int64(1), parent.Version, must.Sprint("parent version"))
	last := parent.ID
	for i, tk := range tasks {
		must.Greater(t, last, tk.ID, must.Sprintf("task %d: ids increase from the parent's, in task order", i))
		last = tk.ID
		must.EqOp(t, int64(1), tk.Version, must.Sprintf("task %d version", i))
		must.EqOp(t, parent.ID, tk.ParentID, must.Sprintf("task %d parent", i))
	}
	requireArrayStored(t, s, parent, tasks)
}

// requireArrayStored checks that the store holds the parent and, under it,
// exactly these tasks.
func requireArrayStored(t *testing.T, s store.Store, parent *job.Job, tasks []*job.Job) {
	t.Helper()
	ctx := t.Context()
	got, err := s.Get(ctx, parent.ID)
	must.NoError(t, err)
	RequireSameJob(t, parent, got)
	listed, err := s.List(ctx, store.Filter{ParentID: parent.ID, Ascending: true})
	must.NoError(t, err)
	must.Eq(t, ids(tasks), ids(listed), must.Sprintf("tasks of array %d", parent.ID))
	for i, g := range listed {
		RequireSameJob(t, tasks[i], g)
	}
}

func testCreateArray(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := NewJob(1000, 1)
	must.NoError(t, s.Create(ctx, before))

	parent, tasks := NewArray(1000, 1, 7)
	tasks[3].Held, tasks[3].HeldBy = true, "user1000"
	must.NoError(t, s.CreateArray(ctx, parent, tasks))
	must.Greater(t, before.ID, parent.ID)
	requireArrayCreated(t, s, parent, tasks)
	for _, tk := range tasks {
		g, err := s.Get(ctx, tk.ID)
		must.NoError(t, err)
		RequireSameJob(t, tk, g)
	}

	// A second array, and jobs in between, do not mix with the first.
	mid := NewJob(1001, 2)
	must.NoError(t, s.Create(ctx, mid))
	p2, t2 := NewArray(1001, 0, 3)
	must.NoError(t, s.CreateArray(ctx, p2, t2))
	must.Greater(t, mid.ID, p2.ID)
	requireArrayCreated(t, s, p2, t2)
	requireArrayStored(t, s, parent, tasks)

	// Newest first, and limited, like any list.
	got, err := s.List(ctx, store.Filter{ParentID: parent.ID, Limit: 2})
	must.NoError(t, err)
	must.Eq(t, []int64{tasks[6].ID, tasks[5].ID}, ids(got))
	// Not a parent: no tasks.
	for _, id := range []int64{mid.ID, tasks[0].ID, p2.ID + 1_000_000} {
		got, err = s.List(ctx, store.Filter{ParentID: id})
		must.NoError(t, err)
		must.SliceEmpty(t, got, must.Sprintf("tasks of %d", id))
	}
	// Every job is listed without the filter.
	all, err := s.List(ctx, store.Filter{Ascending: true})
	must.NoError(t, err)
	must.Len(t, 2+2+len(tasks)+len(t2), all)

	// An updated task stays in its array.
	tasks[2].Status.Primary = api.StateRunning
	must.NoError(t, s.Update(ctx, tasks[2]))
	requireArrayStored(t, s, parent, tasks)

	// An array without tasks is just its parent.
	p3, _ := NewArray(1002, 0, 1)
	must.NoError(t, s.CreateArray(ctx, p3, nil))
	must.Positive(t, p3.ID)
	g, err := s.Get(ctx, p3.ID)
	must.NoError(t, err)
	RequireSameJob(t, p3, g)
}

func testCreateArrayCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	parent, tasks := NewArray(1000, 0, 50)
	for range 20 { // a store that races the cancellation would store one
		err := s.CreateArray(ctx, parent, tasks)
		must.ErrorIs(t, err, context.Canceled)
	}
	must.EqOp(t, int64(0), parent.ID, must.Sprint("a failed CreateArray assigns no id"))
	for _, tk := range tasks {
		must.EqOp(t, int64(0), tk.ID)
		must.EqOp(t, int64(0), tk.Version)
		must.EqOp(t, int64(0), tk.ParentID)
	}
	all, err := s.List(t.Context(), store.Filter{})
	must.NoError(t, err)
	must.SliceEmpty(t, all, must.Sprint("nothing stored by a canceled CreateArray"))

	// The same jobs can be stored afterwards.
	must.NoError(t, s.CreateArray(t.Context(), parent, tasks))
	requireArrayCreated(t, s, parent, tasks)
}

// testCreateArrayFailure: an array whose last task cannot be stored (its
// CPU is NaN, which JSON cannot encode) is not stored at all, while creates
// submitted at the same moment are. A store that can encode NaN must then
// store the whole array.
func testCreateArrayFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	const singles = 30
	for round := range 5 {
		parent, tasks := NewArray(1000, 0, 200)
		tasks[len(tasks)-1].CPU = math.NaN()
		var (
			wg      sync.WaitGroup
			errs    errs
			mu      sync.Mutex
			created []int64
			err     error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			err = s.CreateArray(ctx, parent, tasks)
		})
		for i := range singles {
			wg.Go(func() {
				<-start
				j := NewJob(2000, 100*round+i)
				if err := s.Create(ctx, j); err != nil {
					errs.add(fmt.Errorf("round %d: create %d next to a failing array: %w", round, i, err))
					return
				}
				mu.Lock()
				created = append(created, j.ID)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		errs.check(t)
		if err == nil {
			t.Logf("this store stores a NaN CPU: the array must be complete")
			requireArrayCreated(t, s, parent, tasks)
			return
		}
		must.EqOp(t, int64(0), parent.ID, must.Sprint("a failed CreateArray assigns no id"))
		for _, tk := range tasks {
			must.EqOp(t, int64(0), tk.ID)
			must.EqOp(t, int64(0), tk.ParentID)
		}
		uid := 1000
		got, lerr := s.List(ctx, store.Filter{UID: &uid})
		must.NoError(t, lerr)
		must.SliceEmpty(t, got, must.Sprintf("round %d: a failed CreateArray stores nothing", round))
		for _, id := range created {
			_, err := s.Get(ctx, id)
			must.NoError(t, err)
		}
	}
}

func testCreateArrayLarge(t *testing.T, s store.Store) {
	const n = 5000
	ctx := t.Context()
	parent, tasks := NewArray(1000, 1, n)
	start := time.Now()
	must.NoError(t, s.CreateArray(ctx, parent, tasks))
	t.Logf("%d tasks stored in %v", n, time.Since(start))
	seen := map[int64]bool{parent.ID: true}
	for _, tk := range tasks {
		must.False(t, seen[tk.ID], must.Sprintf("id %d assigned twice", tk.ID))
		seen[tk.ID] = true
	}
	requireArrayCreated(t, s, parent, tasks)
	all, err := s.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.Len(t, n+1, all)
}

// testConcurrentCreateArray: arrays and single jobs created at the same time
// (so possibly in one batch of a grouping store) keep their tasks together.
func testConcurrentCreateArray(t *testing.T, s store.Store) {
	ctx := t.Context()
	const arrays, size, singles = 8, 50, 40
	var (
		wg      sync.WaitGroup
		errs    errs
		parents [arrays]*job.Job
		tasks   [arrays][]*job.Job
	)
	start := make(chan struct{})
	for a := range arrays {
		parents[a], tasks[a] = NewArray(3000+a, 0, size)
		wg.Go(func() {
			<-start
			if err := s.CreateArray(ctx, parents[a], tasks[a]); err != nil {
				errs.add(fmt.Errorf("array %d: %w", a, err))
			}
		})
	}
	for i := range singles {
		wg.Go(func() {
			<-start
			if err := s.Create(ctx, NewJob(4000, i)); err != nil {
				errs.add(fmt.Errorf("single %d: %w", i, err))
			}
		})
	}
	close(start)
	wg.Wait()
	errs.check(t)
	for a := range arrays {
		requireArrayCreated(t, s, parents[a], tasks[a])
	}
	all, err := s.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.Len(t, arrays*(size+1)+singles, all)
}

func testDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	must.ErrorIs(t, s.Delete(ctx, 1), store.ErrNotFound, must.Sprint("delete in an empty store"))
	var jobs []*job.Job
	for n := range 4 {
		j := NewJob(1000, n)
		must.NoError(t, s.Create(ctx, j))
		jobs = append(jobs, j)
	}
	victim := jobs[1]
	must.NoError(t, s.Delete(ctx, victim.ID))
	_, err := s.Get(ctx, victim.ID)
	must.ErrorIs(t, err, store.ErrNotFound)
	must.ErrorIs(t, s.Delete(ctx, victim.ID), store.ErrNotFound, must.Sprint("delete again"))
	must.ErrorIs(t, s.Update(ctx, victim), store.ErrNotFound, must.Sprint("update of a deleted job"))
	must.ErrorIs(t, s.Delete(ctx, jobs[3].ID+1000), store.ErrNotFound)
	got, err := s.List(ctx, store.Filter{Ascending: true})
	must.NoError(t, err)
	must.Eq(t, []int64{jobs[0].ID, jobs[2].ID, jobs[3].ID}, ids(got))
	for _, g := range got {
		for _, j := range jobs {
			if j.ID == g.ID {
				RequireSameJob(t, j, g)
			}
		}
	}

	// Deleting a task removes it from its array; ids are not reused.
	parent, tasks := NewArray(1000, 0, 3)
	must.NoError(t, s.CreateArray(ctx, parent, tasks))
	must.Greater(t, jobs[3].ID, parent.ID)
	must.NoError(t, s.Delete(ctx, tasks[1].ID))
	listed, err := s.List(ctx, store.Filter{ParentID: parent.ID, Ascending: true})
	must.NoError(t, err)
	must.Eq(t, []int64{tasks[0].ID, tasks[2].ID}, ids(listed))
	last := NewJob(1000, 9)
	must.NoError(t, s.Create(ctx, last))
	must.Greater(t, tasks[2].ID, last.ID, must.Sprint("ids are not reused after delete"))

	// A canceled delete deletes nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	must.ErrorIs(t, s.Delete(cctx, jobs[0].ID), context.Canceled)
	_, err = s.Get(ctx, jobs[0].ID)
	must.NoError(t, err)
}

// end marks j over at ended through Update, as the agent does.
func end(t *testing.T, s store.Store, j *job.Job, ended time.Time) {
	t.Helper()
	j.MarkOver(new(0), "", "", ended)
	must.NoError(t, s.Update(t.Context(), j))
}

func testListEndedBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// Jobs 0-5 end at base + n hours (in various zones); 6 and 7 do not end.
	var jobs []*job.Job
	for n := range 8 {
		j := NewJob(1000, n)
		must.NoError(t, s.Create(ctx, j))
		if n < 6 {
			zone := time.FixedZone("Z", (n-3)*3600)
			end(t, s, j, base.Add(time.Duration(n)*time.Hour).In(zone))
		} else if n == 6 {
			j.MarkRunning(api.Container{Executor: "docker", ID: "x"}, base)
			must.NoError(t, s.Update(ctx, j))
		}
		jobs = append(jobs, j)
	}
	check := func(before time.Time, want ...int) {
		t.Helper()
		wantIDs := []int64{}
		for _, n := range want {
			wantIDs = append(wantIDs, jobs[n].ID)
		}
		got, err := s.List(ctx, store.Filter{EndedBefore: before, Ascending: true})
		must.NoError(t, err)
		must.Eq(t, wantIDs, ids(got), must.Sprintf("ended before %v", before))
		for i, g := range got {
			RequireSameJob(t, jobs[want[i]], g)
		}
	}
	check(base.Add(-time.Hour))
	check(base, []int{}...) // "before" is strict
	check(base.Add(time.Nanosecond), 0)
	check(base.Add(150*time.Minute), 0, 1, 2)
	check(base.Add(150*time.Minute).In(time.FixedZone("W", -7*3600)), 0, 1, 2)
	check(base.Add(1000*time.Hour), 0, 1, 2, 3, 4, 5)
	check(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))

	// Update moves the end date (and a job that did not end, ends).
	end(t, s, jobs[5], base.Add(-time.Hour))
	end(t, s, jobs[7], base.Add(90*time.Minute))
	check(base, 5)
	check(base.Add(150*time.Minute), 0, 1, 2, 5, 7)
	// A job whose end date is cleared (rerun) no longer matches.
	jobs[1].Dates.Ended = nil
	jobs[1].Status = api.Status{Primary: api.StatePending}
	must.NoError(t, s.Update(ctx, jobs[1]))
	check(base.Add(150*time.Minute), 0, 2, 5, 7)

	got, err := s.List(ctx, store.Filter{EndedBefore: base.Add(1000 * time.Hour), Limit: 2})
	must.NoError(t, err)
	must.Eq(t, []int64{jobs[7].ID, jobs[5].ID}, ids(got), must.Sprint("newest first, limited"))
}

func testListCombined(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// Two arrays of uid 1000 and 1001, and single jobs; tasks n%3 == 0 end
	// at base+n minutes, n%3 == 1 are running, n%3 == 2 pending.
	type made struct {
		parent *job.Job
		tasks  []*job.Job
	}
	var arrays []made
	byID := map[int64]*job.Job{}
	var all []int64
	for a, uid := range []int{1000, 1001} {
		p, tasks := NewArray(uid, 0, 12)
		must.NoError(t, s.CreateArray(ctx, p, tasks))
		byID[p.ID] = p
		all = append(all, p.ID)
		for n, tk := range tasks {
			switch n % 3 {
			case 0:
				end(t, s, tk, base.Add(time.Duration(n+a)*time.Minute))
			case 1:
				tk.MarkRunning(api.Container{Executor: "docker", ID: "x"}, base)
				must.NoError(t, s.Update(ctx, tk))
			}
			byID[tk.ID] = tk
			all = append(all, tk.ID)
		}
		arrays = append(arrays, made{p, tasks})
		single := NewJob(uid, 100+a)
		must.NoError(t, s.Create(ctx, single))
		end(t, s, single, base)
		byID[single.ID] = single
		all = append(all, single.ID)
	}
	// Task 3 of the first array: rerun, so pending with no end date.
	rerun := arrays[0].tasks[3]
	rerun.Dates.Ended, rerun.Status = nil, api.Status{Primary: api.StatePending}
	must.NoError(t, s.Update(ctx, rerun))

	uid := func(u int) *int { return &u }
	p0, p1 := arrays[0].parent.ID, arrays[1].parent.ID
	cut := base.Add(7 * time.Minute)
	endedBefore := func(j *job.Job, at time.Time) bool { return j.Dates.Ended != nil && j.Dates.Ended.Before(at) }
	cases := []struct {
		name string
		f    store.Filter
		keep func(*job.Job) bool
	}{
		{"parent and state", store.Filter{ParentID: p0, States: []string{api.StateRunning}}, func(j *job.Job) bool {
			return j.ParentID == p0 && j.Running()
		}},
		{"parent and ended", store.Filter{ParentID: p1, EndedBefore: cut}, func(j *job.Job) bool {
			return j.ParentID == p1 && endedBefore(j, cut)
		}},
		{"parent, uid and states", store.Filter{ParentID: p0, UID: uid(1000), States: []string{api.StatePending, api.StateOver}}, func(j *job.Job) bool {
			return j.ParentID == p0 && (j.Pending() || j.Status.Primary == api.StateOver)
		}},
		{"parent of another uid", store.Filter{ParentID: p0, UID: uid(1001)}, func(*job.Job) bool { return false }},
		{"uid and ended", store.Filter{UID: uid(1001), EndedBefore: cut}, func(j *job.Job) bool {
			return j.User.UID == 1001 && endedBefore(j, cut)
		}},
		{"state and ended", store.Filter{States: []string{api.StateOver, api.StateArchived}, EndedBefore: base.Add(time.Minute)}, func(j *job.Job) bool {
			return endedBefore(j, base.Add(time.Minute))
		}},
		{"ended but wrong state", store.Filter{States: []string{api.StateRunning}, EndedBefore: cut}, func(*job.Job) bool { return false }},
		{"everything", store.Filter{ParentID: p1, UID: uid(1001), States: []string{api.StateOver}, EndedBefore: base.Add(time.Hour)}, func(j *job.Job) bool {
			return j.ParentID == p1 && j.Status.Primary == api.StateOver
		}},
		{"parent, before id", store.Filter{ParentID: p0, BeforeID: arrays[0].tasks[7].ID}, func(j *job.Job) bool {
			return j.ParentID == p0 && j.ID < arrays[0].tasks[7].ID
		}},
		{"ended, before id", store.Filter{EndedBefore: cut, BeforeID: arrays[1].tasks[2].ID}, func(j *job.Job) bool {
			return endedBefore(j, cut) && j.ID < arrays[1].tasks[2].ID
		}},
		{"uid, ended, before id", store.Filter{UID: uid(1001), EndedBefore: base.Add(time.Hour), BeforeID: arrays[1].tasks[10].ID}, func(j *job.Job) bool {
			return j.User.UID == 1001 && endedBefore(j, base.Add(time.Hour)) && j.ID < arrays[1].tasks[10].ID
		}},
	}
	for _, c := range cases {
		for _, asc := range []bool{false, true} {
			for _, limit := range []int{0, 1, 3} {
				want := []int64{}
				for _, id := range all {
					if c.keep(byID[id]) {
						want = append(want, id)
					}
				}
				if !asc {
					slices.Reverse(want)
				}
				if limit > 0 && len(want) > limit {
					want = want[:limit]
				}
				f := c.f
				f.Ascending, f.Limit = asc, limit
				got, err := s.List(ctx, f)
				must.NoError(t, err)
				must.Eq(t, want, ids(got), must.Sprintf("%s, ascending=%v, limit=%d", c.name, asc, limit))
				for _, g := range got {
					RequireSameJob(t, byID[g.ID], g)
				}
			}
		}
	}
}
