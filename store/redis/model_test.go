package redis_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/shoenig/test/must"
	"pgregory.net/rapid"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/storetest"
)

// instants are the end times and cut-offs the model test draws from: around
// whole seconds, after and before 1970 (where rounding down differs from
// truncating).
var instants = func() []time.Time {
	var out []time.Time
	for _, sec := range []int64{1_750_000_000, 1_750_000_001, -5, -4} {
		for _, ns := range []int64{-1, 0, 1, 999_999_999} {
			out = append(out, time.Unix(sec, 0).Add(time.Duration(ns)))
		}
	}
	return out
}()

var modelStates = []string{api.StatePending, api.StateRunning, api.StateOver, api.StateArchived}

// TestModel: random creates, arrays, updates (state, user and end moves),
// stale updates and deletes, each followed by random Lists compared with a
// plain map of the jobs, and by a check that the indexes hold exactly what
// the records say.
func TestModel(t *testing.T) {
	srv := startServer(t)
	c := srv.Client(t)
	var run atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		prefix := fmt.Sprintf("model%d:", run.Add(1))
		s := open(t, srv.Addr, prefix)
		defer s.Close()
		ctx := t.Context()
		model := map[int64]*job.Job{}
		drawJob := func(label string) *job.Job {
			j := storetest.NewJob(rapid.IntRange(1000, 1002).Draw(rt, label+" uid"), 0)
			j.Status.Primary = rapid.SampledFrom(modelStates).Draw(rt, label+" state")
			if rapid.Bool().Draw(rt, label+" ended") {
				e := rapid.SampledFrom(instants).Draw(rt, label+" end")
				j.Dates.Ended = &e
			}
			return j
		}
		pick := func() *job.Job {
			ids := slices.Sorted(maps.Keys(model))
			return model[rapid.SampledFrom(ids).Draw(rt, "job")].Clone()
		}

		for range rapid.IntRange(1, 25).Draw(rt, "ops") {
			op := rapid.IntRange(0, 4).Draw(rt, "op")
			if len(model) == 0 {
				op = 0
			}
			switch op {
			case 0:
				j := drawJob("create")
				must.NoError(rt, s.Create(ctx, j))
				model[j.ID] = j.Clone()
			case 1:
				p := drawJob("parent")
				p.Array = &job.Array{First: 0, Last: 3, Step: 1}
				var tasks []*job.Job
				for range rapid.IntRange(0, 4).Draw(rt, "tasks") {
					tasks = append(tasks, drawJob("task"))
				}
				must.NoError(rt, s.CreateArray(ctx, p, tasks))
				for _, j := range append(tasks, p) {
					model[j.ID] = j.Clone()
				}
			case 2:
				j := drawJob("update")
				cur := pick()
				j.ID, j.Version, j.ParentID = cur.ID, cur.Version, cur.ParentID
				must.NoError(rt, s.Update(ctx, j))
				model[j.ID] = j.Clone()
			case 3:
				j := pick()
				j.Version--
				j.Status.Primary = "stale"
				must.ErrorIs(rt, s.Update(ctx, j), store.ErrConflict)
			case 4:
				j := pick()
				must.NoError(rt, s.Delete(ctx, j.ID))
				delete(model, j.ID)
			}
			for range 3 {
				requireListed(rt, s, model, drawFilter(rt, model))
			}
		}
		requireIndexes(rt, c, prefix, model)
	})
}

func drawFilter(rt *rapid.T, model map[int64]*job.Job) store.Filter {
	f := store.Filter{
		Ascending: rapid.Bool().Draw(rt, "ascending"),
		Limit:     rapid.IntRange(0, 4).Draw(rt, "limit"),
		States:    rapid.SliceOfNDistinct(rapid.SampledFrom(append(modelStates, "nope")), 0, 3, rapid.ID).Draw(rt, "states"),
	}
	if rapid.Bool().Draw(rt, "by uid") {
		f.UID = new(rapid.IntRange(999, 1002).Draw(rt, "uid"))
	}
	if rapid.Bool().Draw(rt, "by parent") {
		parents := []int64{4242}
		for _, j := range model {
			if j.IsArray() {
				parents = append(parents, j.ID)
			}
		}
		slices.Sort(parents)
		f.ParentID = rapid.SampledFrom(parents).Draw(rt, "parent")
	}
	if rapid.Bool().Draw(rt, "by end") {
		f.EndedBefore = rapid.SampledFrom(instants).Draw(rt, "ended before")
	}
	if len(model) > 0 && rapid.Bool().Draw(rt, "before id") {
		ids := slices.Sorted(maps.Keys(model))
		f.BeforeID = rapid.SampledFrom(ids).Draw(rt, "before")
	}
	return f
}

func requireListed(rt *rapid.T, s store.Store, model map[int64]*job.Job, f store.Filter) {
	want := []int64{}
	for _, id := range slices.Sorted(maps.Keys(model)) {
		j := model[id]
		switch {
		case f.UID != nil && j.User.UID != *f.UID:
		case len(f.States) > 0 && !slices.Contains(f.States, j.Status.Primary):
		case f.ParentID != 0 && j.ParentID != f.ParentID:
		case !f.EndedBefore.IsZero() && (j.Dates.Ended == nil || !j.Dates.Ended.Before(f.EndedBefore)):
		case f.BeforeID != 0 && id >= f.BeforeID:
		default:
			want = append(want, id)
		}
	}
	if !f.Ascending {
		slices.Reverse(want)
	}
	if f.Limit > 0 && len(want) > f.Limit {
		want = want[:f.Limit]
	}
	got, err := s.List(rt.Context(), f)
	must.NoError(rt, err)
	gotIDs := []int64{}
	for _, g := range got {
		gotIDs = append(gotIDs, g.ID)
		requireSame(rt, model[g.ID], g)
	}
	must.Eq(rt, want, gotIDs, must.Sprintf("filter %+v", f))
}

// requireSame is storetest.RequireSameJob for a rapid.T: the same JSON (a
// time's JSON keeps its instant and offset) and the same version.
func requireSame(rt *rapid.T, want, got *job.Job) {
	must.NotNil(rt, want, must.Sprintf("listed job %d", got.ID))
	w, err := json.Marshal(want)
	must.NoError(rt, err)
	g, err := json.Marshal(got)
	must.NoError(rt, err)
	must.EqOp(rt, string(w), string(g))
	must.EqOp(rt, want.Version, got.Version, must.Sprintf("version of job %d", got.ID))
}

// requireIndexes checks that the keys under prefix are exactly the records
// of the model and the index entries they imply.
func requireIndexes(rt *rapid.T, c *goredis.Client, prefix string, model map[int64]*job.Job) {
	ctx := rt.Context()
	want := map[string][]string{} // key -> "member score" of a zset, or nil
	add := func(key string, id int64, score int64) {
		want[prefix+key] = append(want[prefix+key], fmt.Sprintf("%d %d", id, score))
	}
	for id, j := range model {
		want[prefix+"job:"+strconv.FormatInt(id, 10)] = nil
		add("jobs", id, id)
		add("state:"+j.Status.Primary, id, id)
		add("uid:"+strconv.Itoa(j.User.UID), id, id)
		if j.ParentID != 0 {
			add("parent:"+strconv.FormatInt(j.ParentID, 10), id, id)
		}
		if j.Dates.Ended != nil {
			ns := j.Dates.Ended.UnixNano()
			sec := ns / 1e9
			if ns%1e9 != 0 && ns < 0 {
				sec--
			}
			add("ended", id, sec)
		}
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	must.NoError(rt, err)
	got := map[string][]string{}
	for _, k := range keys {
		if k == prefix+"next_id" || k == prefix+"store" {
			continue
		}
		if strings.HasPrefix(k, prefix+"job:") {
			got[k] = nil
			continue
		}
		zs, err := c.ZRangeWithScores(ctx, k, 0, -1).Result()
		must.NoError(rt, err, must.Sprintf("key %s", k))
		for _, z := range zs {
			got[k] = append(got[k], fmt.Sprintf("%s %d", z.Member, int64(z.Score)))
		}
	}
	for k := range want {
		slices.Sort(want[k])
	}
	for k := range got {
		slices.Sort(got[k])
	}
	must.Eq(rt, want, got)
}
