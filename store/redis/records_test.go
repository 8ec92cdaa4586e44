package redis_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoenig/test/must"
	"pgregory.net/rapid"

	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/storetest"
)

func TestRecordsConformance(t *testing.T) {
	srv := startServer(t)
	var n atomic.Int64
	storetest.RunRecords(t, func(t *testing.T) storetest.RecordStore {
		return open(t, srv.Addr, fmt.Sprintf("records%d:", n.Add(1)))
	})
}

// TestRecordsConformanceFenced: a fenced view keeps records as a store does
// while its epoch is the newest.
func TestRecordsConformanceFenced(t *testing.T) {
	srv := startServer(t)
	var n atomic.Int64
	storetest.RunRecords(t, func(t *testing.T) storetest.RecordStore {
		s := open(t, srv.Addr, fmt.Sprintf("frecords%d:", n.Add(1)))
		t.Cleanup(func() { must.NoError(t, s.Close()) })
		v, err := s.Fence(t.Context(), 3)
		must.NoError(t, err)
		return v.(storetest.RecordStore)
	})
}

// TestRecordsFenced: once a newer epoch is claimed, a deposed view's record
// and audit writes fail and change nothing.
func TestRecordsFenced(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := open(t, srv.Addr, "")
	defer s.Close()
	old, err := s.Fence(ctx, 1)
	must.NoError(t, err)
	v1 := old.(storetest.RecordStore)
	r := &store.Record{Kind: store.KindUser, Key: "alice", Value: []byte("1")}
	must.NoError(t, v1.PutRecord(ctx, r))
	must.NoError(t, v1.AppendAudit(ctx, &api.AuditEntry{Time: time.Now(), Actor: "alice", Action: "login"}))

	_, err = s.Fence(ctx, 2)
	must.NoError(t, err)
	stale := *r
	stale.Value = []byte("2")
	must.ErrorIs(t, v1.PutRecord(ctx, &stale), store.ErrFenced)
	must.EqOp(t, int64(1), stale.Version)
	must.ErrorIs(t, v1.PutRecord(ctx, &store.Record{Kind: store.KindUser, Key: "bob"}), store.ErrFenced)
	must.ErrorIs(t, v1.DeleteRecord(ctx, store.KindUser, "alice", 0), store.ErrFenced)
	e := &api.AuditEntry{Time: time.Now(), Actor: "alice", Action: "job.submit"}
	must.ErrorIs(t, v1.AppendAudit(ctx, e), store.ErrFenced)
	must.EqOp(t, int64(0), e.ID)

	got, err := s.ListRecords(ctx, store.KindUser)
	must.NoError(t, err)
	must.SliceLen(t, 1, got)
	must.Eq(t, "1", string(got[0].Value))
	must.EqOp(t, int64(1), got[0].Version)
	audit, err := v1.ListAudit(ctx, store.AuditFilter{}) // reads are not fenced
	must.NoError(t, err)
	must.SliceLen(t, 1, audit)
	must.Eq(t, "login", audit[0].Action)
}

// TestRecordKeyLayout: records and the audit log use the keys the package
// doc lists; a key may hold ':', a kind may not (keys would be ambiguous).
func TestRecordKeyLayout(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := open(t, srv.Addr, "")
	defer s.Close()
	r := &store.Record{Kind: store.KindToken, Key: "a:b", Value: []byte("x")}
	must.NoError(t, s.PutRecord(ctx, r))
	got, err := s.GetRecord(ctx, store.KindToken, "a:b")
	must.NoError(t, err)
	must.Eq(t, "x", string(got.Value))
	err = s.PutRecord(ctx, &store.Record{Kind: "token:a", Key: "b"})
	must.ErrorContains(t, err, `record kind "token:a" must be non-empty and have no ':'`)
	_, err = s.GetRecord(ctx, "", "b")
	must.ErrorContains(t, err, "must be non-empty")
	e := &api.AuditEntry{Time: time.Unix(1_750_000_000, 999_999_999), Actor: "alice", Action: "login"}
	must.NoError(t, s.AppendAudit(ctx, e))
	must.EqOp(t, int64(1), e.ID)

	c := srv.Client(t)
	keys, err := c.Keys(ctx, "*").Result()
	must.NoError(t, err)
	slices.Sort(keys)
	must.Eq(t, []string{
		"god:audit:action:login", "god:audit:actor:alice", "god:audit:entries", "god:audit:ids",
		"god:audit:next_id", "god:audit:time", "god:rec:token:a:b", "god:recs:token", "god:store",
	}, keys)
	h, err := c.HGetAll(ctx, "god:rec:token:a:b").Result()
	must.NoError(t, err)
	must.Eq(t, map[string]string{"v": "1", "data": "x"}, h)
	at, err := c.ZScore(ctx, "god:audit:time", "1").Result()
	must.NoError(t, err)
	must.EqOp(t, 1_750_000_000.0, at)
}

// auditTimes are the entry times and bounds the audit model draws from:
// around whole seconds, after and before 1970.
var auditTimes = func() []time.Time {
	var out []time.Time
	for _, sec := range []int64{1_750_000_000, 1_750_000_001, -3} {
		for _, ns := range []int64{-1, 0, 1, 500_000_000} {
			out = append(out, time.Unix(sec, 0).Add(time.Duration(ns)))
		}
	}
	return out
}()

// TestAuditModel: random entries, then random filters compared with a plain
// filter of the entries.
func TestAuditModel(t *testing.T) {
	srv := startServer(t)
	var run atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		s := open(t, srv.Addr, fmt.Sprintf("audit%d:", run.Add(1)))
		defer s.Close()
		ctx := t.Context()
		actors := []string{"alice", "bob", "a:b", ""}
		actions := []string{"login", "job.submit", "job.stop"}
		var model []*api.AuditEntry
		for i := range rapid.IntRange(0, 30).Draw(rt, "entries") {
			e := &api.AuditEntry{
				Time:    rapid.SampledFrom(auditTimes).Draw(rt, "time"),
				Actor:   rapid.SampledFrom(actors).Draw(rt, "actor"),
				Action:  rapid.SampledFrom(actions).Draw(rt, "action"),
				Target:  strconv.Itoa(i),
				Outcome: api.OutcomeOK,
			}
			must.NoError(rt, s.AppendAudit(ctx, e))
			model = append(model, e)
		}
		for range 10 {
			f := store.AuditFilter{Limit: rapid.IntRange(0, 5).Draw(rt, "limit")}
			if rapid.Bool().Draw(rt, "by actor") {
				f.Actor = rapid.SampledFrom(append(actors[:3:3], "nobody")).Draw(rt, "actor")
			}
			if rapid.Bool().Draw(rt, "by action") {
				f.Action = rapid.SampledFrom(actions).Draw(rt, "action")
			}
			if rapid.Bool().Draw(rt, "since") {
				f.Since = rapid.SampledFrom(auditTimes).Draw(rt, "since")
			}
			if rapid.Bool().Draw(rt, "until") {
				f.Until = rapid.SampledFrom(auditTimes).Draw(rt, "until")
			}
			if len(model) > 0 && rapid.Bool().Draw(rt, "before") {
				f.BeforeID = rapid.SampledFrom(model).Draw(rt, "before").ID
			}
			want := []string{}
			for _, e := range slices.Backward(model) {
				switch {
				case f.Actor != "" && e.Actor != f.Actor,
					f.Action != "" && e.Action != f.Action,
					!f.Since.IsZero() && e.Time.Before(f.Since),
					!f.Until.IsZero() && !e.Time.Before(f.Until),
					f.BeforeID != 0 && e.ID >= f.BeforeID:
					continue
				}
				if f.Limit == 0 || len(want) < f.Limit {
					want = append(want, e.Target)
				}
			}
			got, err := s.ListAudit(ctx, f)
			must.NoError(rt, err)
			gotTargets := []string{}
			for _, e := range got {
				gotTargets = append(gotTargets, e.Target)
				must.True(rt, e.Time.Equal(model[e.ID-1].Time))
			}
			must.Eq(rt, want, gotTargets, must.Sprintf("filter %+v", f))
		}
	})
}

// TestAuditUsesIndexes: listing one actor's or action's entries, or a time
// range, reads those entries, not the whole log. The server's slow log,
// set to record every command with its arguments, shows how many entries
// each read asked for.
func TestAuditUsesIndexes(t *testing.T) {
	srv := startServer(t, "--slowlog-log-slower-than", "0", "--slowlog-max-len", "10000")
	ctx := t.Context()
	s := open(t, srv.Addr, "")
	defer s.Close()
	c := srv.Client(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 1000 logins of alice, one a second; then 3 stops by bob.
	for i := range 1000 {
		must.NoError(t, s.AppendAudit(ctx, &api.AuditEntry{Time: base.Add(time.Duration(i) * time.Second), Actor: "alice", Action: "login"}))
	}
	for i := range 3 {
		must.NoError(t, s.AppendAudit(ctx, &api.AuditEntry{Time: base.Add(time.Duration(i) * time.Second), Actor: "bob", Action: "job.stop"}))
	}
	// entriesRead lists f and counts the entries its reads asked for.
	entriesRead := func(f store.AuditFilter) (listed int, read int) {
		t.Helper()
		must.NoError(t, c.Do(ctx, "SLOWLOG", "RESET").Err())
		got, err := s.ListAudit(ctx, f)
		must.NoError(t, err)
		logs, err := c.SlowLogGet(ctx, -1).Result()
		must.NoError(t, err)
		for _, l := range logs {
			if len(l.Args) < 2 || !strings.EqualFold(l.Args[0], "hmget") || l.Args[1] != "god:audit:entries" {
				continue
			}
			for _, a := range l.Args[2:] {
				// Beyond 32 arguments: "... (N more arguments)".
				if rest, ok := strings.CutPrefix(a, "... ("); ok {
					n, err := strconv.Atoi(strings.Fields(rest)[0])
					must.NoError(t, err)
					read += n
				} else {
					read++
				}
			}
		}
		return len(got), read
	}
	cases := []struct {
		name            string
		f               store.AuditFilter
		listed, maxRead int
	}{
		{"actor", store.AuditFilter{Actor: "bob"}, 3, 3},
		{"action of a busy actor", store.AuditFilter{Actor: "alice", Action: "job.stop"}, 0, 3},
		{"time range", store.AuditFilter{Since: base.Add(10 * time.Second), Until: base.Add(20 * time.Second)}, 10, 10},
		{"newest, limited", store.AuditFilter{Limit: 5}, 5, 5},
		{"busy actor, limited", store.AuditFilter{Actor: "alice", Limit: 5}, 5, 5},
		{"page", store.AuditFilter{Actor: "alice", BeforeID: 500, Limit: 5}, 5, 5},
	}
	for _, tc := range cases {
		listed, read := entriesRead(tc.f)
		t.Logf("%s: listed %d, read %d", tc.name, listed, read)
		must.EqOp(t, tc.listed, listed, must.Sprint(tc.name))
		must.LessEq(t, tc.maxRead, read, must.Sprintf("%s: entries read", tc.name))
	}
	// The whole log is read when the whole log is asked for.
	listed, read := entriesRead(store.AuditFilter{})
	must.EqOp(t, 1003, listed)
	must.EqOp(t, 1003, read)
}
