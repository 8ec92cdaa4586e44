package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
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
	"github.com/godocker/god/store/redis"
	"github.com/godocker/god/store/storetest"
)

func open(t testing.TB, addr, prefix string) *redis.Store {
	t.Helper()
	s, err := redis.Open(context.Background(), redis.Config{Address: addr, Prefix: prefix})
	must.NoError(t, err)
	return s
}

// TestConformance runs the suite against one server, each store under its
// own prefix: a new prefix is an empty store.
func TestConformance(t *testing.T) {
	srv := startServer(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, srv.Addr, fmt.Sprintf("conformance%d:", n.Add(1)))
	})
}

// TestConformanceFenced: a fenced view behaves as a store while its epoch
// is the newest.
func TestConformanceFenced(t *testing.T) {
	srv := startServer(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t, srv.Addr, fmt.Sprintf("fenced%d:", n.Add(1)))
		t.Cleanup(func() { must.NoError(t, s.Close()) })
		v, err := s.Fence(t.Context(), 7)
		must.NoError(t, err)
		return v
	})
}

// TestKillServer: jobs and arrays created and updated by concurrent writers
// until the server is killed with SIGKILL are all there, intact, once it
// restarts on the same dir; ids go on after them.
func TestKillServer(t *testing.T) {
	srv := startServer(t)
	for round := range 3 {
		s := open(t, srv.Addr, "")
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			acked = map[int64][]*job.Job{} // id -> the versions it may have
			count atomic.Int64
		)
		for w := range 16 {
			wg.Go(func() {
				for n := 0; ; n++ {
					j := storetest.NewJob(1000+w, 1000*round+n)
					if err := s.Create(context.Background(), j); err != nil {
						return
					}
					// An update that fails (the server died) may have
					// been applied or not: either version will do.
					versions := []*job.Job{j.Clone()}
					if n%3 == 0 {
						j.MarkRunning(api.Container{Executor: "docker", ID: strconv.Itoa(n)}, time.Now())
						err := s.Update(context.Background(), j)
						if err == nil {
							versions = versions[:0]
						} else {
							j.Version++
						}
						versions = append(versions, j.Clone())
					}
					count.Add(1)
					mu.Lock()
					acked[j.ID] = versions
					mu.Unlock()
				}
			})
		}
		// Arrays of 40 tasks, stored whole or not at all.
		const arraySize = 40
		ackedArrays := map[int64]string{} // parent id -> name
		for w := range 2 {
			wg.Go(func() {
				for n := 0; ; n++ {
					p, tasks := storetest.NewArray(3000+w, 1000*round+n, arraySize)
					if err := s.CreateArray(context.Background(), p, tasks); err != nil {
						return
					}
					mu.Lock()
					ackedArrays[p.ID] = p.Spec.Name
					mu.Unlock()
				}
			})
		}
		for count.Load() < int64(200+round*50) {
			time.Sleep(time.Millisecond)
		}
		srv.Kill()
		wg.Wait()
		must.NoError(t, s.Close())

		srv.Start()
		s = open(t, srv.Addr, "")
		ctx := t.Context()
		var maxID int64
		running := map[int64]bool{}
		for id, versions := range acked {
			got, err := s.Get(ctx, id)
			must.NoError(t, err, must.Sprintf("round %d: acknowledged job %d lost", round, id))
			want := versions[0]
			if len(versions) > 1 && got.Version == versions[1].Version {
				want = versions[1]
			}
			storetest.RequireSameJob(t, want, got)
			running[id] = want.Running()
			maxID = max(maxID, id)
		}
		// The indexes survive with the records.
		listed, err := s.List(ctx, store.Filter{States: []string{api.StateRunning}, Ascending: true})
		must.NoError(t, err)
		for _, j := range listed {
			if _, ok := acked[j.ID]; ok {
				must.True(t, running[j.ID], must.Sprintf("job %d listed as running", j.ID))
				delete(running, j.ID)
			}
		}
		for id, r := range running {
			must.False(t, r, must.Sprintf("running job %d not listed as running", id))
		}
		// Every array stored is complete; every acknowledged one is stored.
		all, err := s.List(ctx, store.Filter{})
		must.NoError(t, err)
		for _, p := range all {
			if !p.IsArray() {
				continue
			}
			tasks, err := s.List(ctx, store.Filter{ParentID: p.ID, Ascending: true})
			must.NoError(t, err)
			must.SliceLen(t, arraySize, tasks, must.Sprintf("round %d: array %d", round, p.ID))
			for i, tk := range tasks {
				must.EqOp(t, p.ID+1+int64(i), tk.ID)
				must.EqOp(t, p.Array.First+i, tk.TaskID)
			}
			maxID = max(maxID, tasks[arraySize-1].ID)
			delete(ackedArrays, p.ID)
		}
		must.MapEmpty(t, ackedArrays, must.Sprintf("round %d: acknowledged arrays lost", round))
		j := storetest.NewJob(1, 1)
		must.NoError(t, s.Create(ctx, j))
		must.Greater(t, maxID, j.ID, must.Sprint("ids are not reused after a kill"))
		t.Logf("round %d: %d jobs acknowledged before the kill", round, len(acked))
		must.NoError(t, s.Close())
	}
}

func TestFence(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := open(t, srv.Addr, "")
	defer s.Close()

	v1, err := s.Fence(ctx, 1)
	must.NoError(t, err)
	a := storetest.NewJob(1000, 1)
	must.NoError(t, v1.Create(ctx, a))
	p, tasks := storetest.NewArray(1000, 0, 3)
	must.NoError(t, v1.CreateArray(ctx, p, tasks))

	v2, err := s.Fence(ctx, 2)
	must.NoError(t, err)
	_, err = s.Fence(ctx, 1)
	must.ErrorIs(t, err, store.ErrFenced, must.Sprint("claiming an older epoch"))

	// Every write of the deposed view fails and changes nothing.
	before, err := s.List(ctx, store.Filter{})
	must.NoError(t, err)
	stale := a.Clone()
	stale.Status.Primary = api.StateRunning
	must.ErrorIs(t, v1.Update(ctx, stale), store.ErrFenced)
	must.EqOp(t, int64(1), stale.Version)
	must.ErrorIs(t, v1.Delete(ctx, a.ID), store.ErrFenced)
	must.ErrorIs(t, v1.Delete(ctx, tasks[0].ID), store.ErrFenced)
	c := storetest.NewJob(1000, 2)
	must.ErrorIs(t, v1.Create(ctx, c), store.ErrFenced)
	must.EqOp(t, int64(0), c.ID)
	p2, t2 := storetest.NewArray(1000, 5, 2)
	must.ErrorIs(t, v1.CreateArray(ctx, p2, t2), store.ErrFenced)
	must.EqOp(t, int64(0), p2.ID)
	after, err := s.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.Eq(t, len(before), len(after))
	for i := range before {
		storetest.RequireSameJob(t, before[i], after[i])
	}

	// Reads are not fenced.
	got, err := v1.Get(ctx, a.ID)
	must.NoError(t, err)
	storetest.RequireSameJob(t, a, got)

	// The leader writes; ids go on from the last stored one (a refused
	// create took none).
	must.NoError(t, v2.Update(ctx, stale))
	must.NoError(t, v2.Create(ctx, c))
	must.EqOp(t, tasks[2].ID+1, c.ID)
	must.NoError(t, v2.Delete(ctx, tasks[0].ID))
	// Claiming the same epoch again (a restarted leader) is allowed, and
	// the plain store, which is not fenced, still writes.
	v2b, err := s.Fence(ctx, 2)
	must.NoError(t, err)
	must.NoError(t, v2b.Update(ctx, c))
	must.NoError(t, s.Update(ctx, c))

	_, err = s.Fence(ctx, 0)
	must.ErrorContains(t, err, "epoch 0 out of range")
	_, err = s.Fence(ctx, 1<<53+1)
	must.ErrorContains(t, err, "out of range")

	// Closing a view leaves the store working.
	must.NoError(t, v1.Close())
	must.Error(t, v1.Create(ctx, storetest.NewJob(1, 1)))
	_, err = s.Get(ctx, a.ID)
	must.NoError(t, err)
}

// TestFenceRace: writers of many epochs race with claims of newer ones;
// once a newer claim has returned, every write of an older epoch fails.
func TestFenceRace(t *testing.T) {
	srv := startServer(t)
	s := open(t, srv.Addr, "")
	defer s.Close()
	ctx := t.Context()

	const epochs = 20
	var claimed atomic.Uint64 // newest epoch whose claim returned
	var wg sync.WaitGroup
	var errs storeErrs
	for epoch := uint64(1); epoch <= epochs+1; epoch++ {
		v, err := s.Fence(ctx, epoch)
		must.NoError(t, err)
		claimed.Store(epoch)
		if epoch > epochs {
			break // the last claim stops the last writer
		}
		wg.Go(func() {
			for n := 0; ; n++ {
				// A create racing the claim may land either way.
				err := v.Create(ctx, storetest.NewJob(2000, n))
				if err != nil && !errors.Is(err, store.ErrFenced) {
					errs.add(fmt.Errorf("epoch %d: %w", epoch, err))
					return
				}
				if claimed.Load() > epoch {
					if err := v.Create(ctx, storetest.NewJob(2000, n)); !errors.Is(err, store.ErrFenced) {
						errs.add(fmt.Errorf("epoch %d: create after a newer claim: %v", epoch, err))
					}
					return
				}
			}
		})
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	must.NoError(t, errs.err())
}

type storeErrs struct {
	mu   sync.Mutex
	list []error
}

func (e *storeErrs) add(err error) {
	e.mu.Lock()
	e.list = append(e.list, err)
	e.mu.Unlock()
}

func (e *storeErrs) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return errors.Join(e.list...)
}

func TestOpenRefusesNonDurable(t *testing.T) {
	srv := startServer(t, "--appendonly", "no")
	c := srv.Client(t)
	ctx := t.Context()
	_, err := redis.Open(ctx, redis.Config{Address: srv.Addr})
	must.ErrorContains(t, err, `appendonly "no"`)
	must.ErrorContains(t, err, srv.Addr)

	s, err := redis.Open(ctx, redis.Config{Address: srv.Addr, AllowNonDurable: true})
	must.NoError(t, err)
	must.NoError(t, s.Close())

	must.NoError(t, c.ConfigSet(ctx, "appendonly", "yes").Err())
	must.NoError(t, c.ConfigSet(ctx, "appendfsync", "everysec").Err())
	_, err = redis.Open(ctx, redis.Config{Address: srv.Addr})
	must.ErrorContains(t, err, `appendfsync "everysec"`)

	must.NoError(t, c.ConfigSet(ctx, "appendfsync", "always").Err())
	must.NoError(t, c.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
	_, err = redis.Open(ctx, redis.Config{Address: srv.Addr})
	must.ErrorContains(t, err, "maxmemory-policy")

	must.NoError(t, c.ConfigSet(ctx, "maxmemory-policy", "volatile-lru").Err())
	s, err = redis.Open(ctx, redis.Config{Address: srv.Addr})
	must.NoError(t, err)
	must.NoError(t, s.Close())

	// A server that hides its configuration cannot be checked.
	must.NoError(t, c.Do(ctx, "ACL", "SETUSER", "noconfig", "on", ">pw", "~*", "+@all", "-config").Err())
	_, err = redis.Open(ctx, redis.Config{Address: srv.Addr, Username: "noconfig", Password: "pw"})
	must.ErrorContains(t, err, "cannot read its appendonly setting")
	s, err = redis.Open(ctx, redis.Config{Address: srv.Addr, Username: "noconfig", Password: "pw", AllowNonDurable: true})
	must.NoError(t, err)
	must.NoError(t, s.Close())
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	_, err := redis.Open(ctx, redis.Config{})
	must.ErrorContains(t, err, "address is required")
	_, err = redis.Open(ctx, redis.Config{Address: "localhost"})
	must.ErrorContains(t, err, "must be host:port")
	_, err = redis.Open(ctx, redis.Config{Address: "127.0.0.1:1", DB: -1})
	must.ErrorContains(t, err, "db -1")

	// Nothing listens on a port just released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = redis.Open(ctx, redis.Config{Address: addr})
	must.ErrorContains(t, err, "cannot reach Redis at "+addr)
	must.ErrorContains(t, err, "is redis-server running")

	srv := startServer(t, "--requirepass", "s3cret")
	_, err = redis.Open(ctx, redis.Config{Address: srv.Addr, Password: "not-the-pa55word"})
	must.ErrorContains(t, err, "refused the credentials")
	must.StrNotContains(t, err.Error(), "pa55word", must.Sprint("the password is not in the error"))
	_, err = redis.Open(ctx, redis.Config{Address: srv.Addr})
	must.ErrorContains(t, err, "refused the credentials")
	s, err := redis.Open(ctx, redis.Config{Address: srv.Addr, Password: "s3cret", DB: 3})
	must.NoError(t, err)
	j := storetest.NewJob(1000, 1)
	must.NoError(t, s.Create(ctx, j))
	must.NoError(t, s.Close())
	must.Error(t, s.Create(ctx, j), must.Sprint("create after close"))
	_, err = s.Get(ctx, j.ID)
	must.Error(t, err, must.Sprint("get after close"))

	// The job went to database 3.
	c := srv.Client(t)
	must.NoError(t, c.Do(ctx, "AUTH", "s3cret").Err())
	must.NoError(t, c.Do(ctx, "SELECT", "3").Err())
	n, err := c.Exists(ctx, "god:job:"+strconv.FormatInt(j.ID, 10)).Result()
	must.NoError(t, err)
	must.EqOp(t, int64(1), n)
}

// TestKeyLayout: the keys are those the package doc lists, all under the
// prefix, and two prefixes on one server are two stores.
func TestKeyLayout(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	a := open(t, srv.Addr, "")
	defer a.Close()
	b := open(t, srv.Addr, "other/")
	defer b.Close()

	p, tasks := storetest.NewArray(1000, 0, 2)
	must.NoError(t, a.CreateArray(ctx, p, tasks))
	tasks[1].MarkOver(new(0), "", "", time.Unix(1_750_000_000, 999_999_999))
	must.NoError(t, a.Update(ctx, tasks[1]))
	_, err := a.Fence(ctx, 4)
	must.NoError(t, err)
	j := storetest.NewJob(1001, 1)
	must.NoError(t, b.Create(ctx, j))
	must.EqOp(t, int64(1), j.ID, must.Sprint("each prefix has its own ids"))

	c := srv.Client(t)
	keys, err := c.Keys(ctx, "*").Result()
	must.NoError(t, err)
	slices.Sort(keys)
	must.Eq(t, []string{
		"god:ended", "god:epoch", "god:job:1", "god:job:2", "god:job:3", "god:jobs", "god:next_id",
		"god:parent:1", "god:state:over", "god:state:pending", "god:store", "god:uid:1000",
		"other/job:1", "other/jobs", "other/next_id", "other/state:pending", "other/store", "other/uid:1001",
	}, keys)
	h, err := c.HGetAll(ctx, "god:job:3").Result()
	must.NoError(t, err)
	must.Eq(t, map[string]string{"v": "2", "uid": "1000", "state": "over", "parent": "1", "ended": "1750000000999999999", "data": h["data"]}, h)
	ended, err := c.ZRangeWithScores(ctx, "god:ended", 0, -1).Result()
	must.NoError(t, err)
	must.SliceLen(t, 1, ended)
	must.EqOp(t, 1_750_000_000.0, ended[0].Score)

	list, err := b.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.SliceLen(t, 1, list)
}

// TestListUsesIndexes: List reads the records it returns and those its
// index walk has to check, not every job. Redis counts the commands it ran
// (INFO commandstats), so the test counts record reads (HMGET).
func TestListUsesIndexes(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := open(t, srv.Addr, "")
	defer s.Close()
	c := srv.Client(t)
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

	// 2000 ended tasks of uid 1000, one a second from base; then a small
	// array of uid 1001 and two running jobs of uid 1002.
	big, tasks := storetest.NewArray(1000, 0, 2000)
	for i, tk := range tasks {
		tk.MarkOver(new(0), "", "", base.Add(time.Duration(i)*time.Second))
	}
	must.NoError(t, s.CreateArray(ctx, big, tasks))
	small, smallTasks := storetest.NewArray(1001, 0, 3)
	must.NoError(t, s.CreateArray(ctx, small, smallTasks))
	smallTasks[1].MarkRunning(api.Container{Executor: "docker", ID: "a"}, base)
	must.NoError(t, s.Update(ctx, smallTasks[1]))
	for n := range 2 {
		j := storetest.NewJob(1002, n)
		j.MarkRunning(api.Container{Executor: "docker", ID: "b"}, base)
		must.NoError(t, s.Create(ctx, j))
	}

	reads := func(f store.Filter) (listed int, hmgets int64) {
		t.Helper()
		must.NoError(t, c.ConfigResetStat(ctx).Err())
		got, err := s.List(ctx, f)
		must.NoError(t, err)
		stats, err := c.Info(ctx, "commandstats").Result()
		must.NoError(t, err)
		for line := range strings.Lines(stats) {
			if rest, ok := strings.CutPrefix(line, "cmdstat_hmget:calls="); ok {
				hmgets, err = strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				must.NoError(t, err)
			}
		}
		return len(got), hmgets
	}
	uid := 1000
	cases := []struct {
		name     string
		f        store.Filter
		listed   int
		maxReads int64
	}{
		{"one state", store.Filter{States: []string{api.StateRunning}}, 3, 3},
		{"uid, limited", store.Filter{UID: &uid, Limit: 5}, 5, 5},
		{"array and state", store.Filter{ParentID: small.ID, States: []string{api.StateRunning}}, 1, 3 + 1},
		{"ended before", store.Filter{EndedBefore: base.Add(10 * time.Second)}, 10, 2 * 11},
		{"ended before, limited", store.Filter{EndedBefore: base.Add(100 * time.Second), Limit: 3}, 3, 101 + 3},
	}
	for _, tc := range cases {
		listed, hmgets := reads(tc.f)
		must.EqOp(t, tc.listed, listed, must.Sprint(tc.name))
		must.LessEq(t, tc.maxReads, hmgets, must.Sprintf("%s: records read", tc.name))
	}
	// Listing every job does read every job.
	listed, hmgets := reads(store.Filter{})
	must.EqOp(t, 2000+2+3+2, listed)
	must.EqOp(t, int64(listed), hmgets)
}

// TestIdentity: a new prefix is a new store with a random identity, kept
// across reopens and shared by every agent that opens it (and by its
// fenced views); a store of an older release (jobs, no identity) gets one
// with its jobs so far as legacy.
func TestIdentity(t *testing.T) {
	srv := startServer(t)
	s := open(t, srv.Addr, "ident:")
	ident := s.Identity()
	must.NoError(t, ident.Check())
	must.Zero(t, ident.LegacyMaxJob)
	other := open(t, srv.Addr, "ident:")
	must.Eq(t, ident, other.Identity(), must.Sprint("every agent of the store sees one identity"))
	v, err := s.Fence(t.Context(), 3)
	must.NoError(t, err)
	must.Eq(t, ident, v.(store.Identified).Identity())
	must.NoError(t, other.Close())
	must.NoError(t, s.Close())
	another := open(t, srv.Addr, "ident2:")
	must.NotEq(t, ident.ID, another.Identity().ID)
	must.NoError(t, another.Close())

	// An older release's store: three jobs, no identity hash.
	old := open(t, srv.Addr, "old:")
	for n := range 3 {
		must.NoError(t, old.Create(t.Context(), storetest.NewJob(1000, n)))
	}
	must.NoError(t, old.Close())
	srv.Client(t).Del(t.Context(), "old:store")
	for range 2 {
		s := open(t, srv.Addr, "old:")
		migrated := s.Identity()
		must.NoError(t, migrated.Check())
		must.Eq(t, int64(3), migrated.LegacyMaxJob)
		must.NoError(t, s.Close())
	}
}
