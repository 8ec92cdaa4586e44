package storetest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
)

// RecordStore is a store with records, as every implementation is.
type RecordStore interface {
	store.Store
	store.Records
}

// RunRecords runs the conformance suite of store.Records. open must return
// a new, empty store each time; RunRecords closes it.
func RunRecords(t *testing.T, open func(t *testing.T) RecordStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s RecordStore)
	}{
		{"PutGet", testRecordPutGet},
		{"CompareAndSwap", testRecordCAS},
		{"Delete", testRecordDelete},
		{"ListByKind", testRecordList},
		{"ConcurrentCAS", testRecordConcurrentCAS},
		{"Audit", testAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { must.NoError(t, s.Close()) })
			tc.fn(t, s)
		})
	}
}

func testRecordPutGet(t *testing.T, s RecordStore) {
	ctx := context.Background()
	_, err := s.GetRecord(ctx, store.KindUser, "alice")
	must.ErrorIs(t, err, store.ErrNoRecord)
	r := &store.Record{Kind: store.KindUser, Key: "alice", Value: []byte(`{"a":1}`)}
	must.NoError(t, s.PutRecord(ctx, r))
	must.Eq(t, 1, r.Version)
	got, err := s.GetRecord(ctx, store.KindUser, "alice")
	must.NoError(t, err)
	must.Eq(t, `{"a":1}`, string(got.Value))
	must.Eq(t, 1, got.Version)
	// The same key of another kind is another record.
	_, err = s.GetRecord(ctx, store.KindProject, "alice")
	must.ErrorIs(t, err, store.ErrNoRecord)
	// Creating again conflicts and changes nothing.
	must.ErrorIs(t, s.PutRecord(ctx, &store.Record{Kind: store.KindUser, Key: "alice", Value: []byte("x")}), store.ErrConflict)
	got, err = s.GetRecord(ctx, store.KindUser, "alice")
	must.NoError(t, err)
	must.Eq(t, `{"a":1}`, string(got.Value))
}

func testRecordCAS(t *testing.T, s RecordStore) {
	ctx := context.Background()
	r := &store.Record{Kind: store.KindProject, Key: "p", Value: []byte("1")}
	must.NoError(t, s.PutRecord(ctx, r))
	stale := *r
	r.Value = []byte("2")
	must.NoError(t, s.PutRecord(ctx, r))
	must.Eq(t, 2, r.Version)
	stale.Value = []byte("lost")
	must.ErrorIs(t, s.PutRecord(ctx, &stale), store.ErrConflict)
	got, err := s.GetRecord(ctx, store.KindProject, "p")
	must.NoError(t, err)
	must.Eq(t, "2", string(got.Value))
	missing := &store.Record{Kind: store.KindProject, Key: "nope", Value: []byte("x"), Version: 3}
	must.ErrorIs(t, s.PutRecord(ctx, missing), store.ErrNoRecord)
}

func testRecordDelete(t *testing.T, s RecordStore) {
	ctx := context.Background()
	r := &store.Record{Kind: store.KindToken, Key: "t1", Value: []byte("x")}
	must.NoError(t, s.PutRecord(ctx, r))
	must.ErrorIs(t, s.DeleteRecord(ctx, store.KindToken, "t1", r.Version+1), store.ErrConflict)
	must.NoError(t, s.DeleteRecord(ctx, store.KindToken, "t1", r.Version))
	must.ErrorIs(t, s.DeleteRecord(ctx, store.KindToken, "t1", 0), store.ErrNoRecord)
	must.NoError(t, s.PutRecord(ctx, &store.Record{Kind: store.KindToken, Key: "t2", Value: []byte("x")}))
	must.NoError(t, s.DeleteRecord(ctx, store.KindToken, "t2", 0))
}

func testRecordList(t *testing.T, s RecordStore) {
	ctx := context.Background()
	for _, k := range []string{"c", "a", "b"} {
		must.NoError(t, s.PutRecord(ctx, &store.Record{Kind: store.KindUser, Key: k, Value: []byte(k)}))
	}
	must.NoError(t, s.PutRecord(ctx, &store.Record{Kind: store.KindProject, Key: "z", Value: []byte("z")}))
	got, err := s.ListRecords(ctx, store.KindUser)
	must.NoError(t, err)
	must.SliceLen(t, 3, got)
	for i, k := range []string{"a", "b", "c"} {
		must.Eq(t, k, got[i].Key)
		must.Eq(t, k, string(got[i].Value))
		must.Eq(t, store.KindUser, got[i].Kind)
		must.Eq(t, 1, got[i].Version)
	}
	none, err := s.ListRecords(ctx, store.KindSecret)
	must.NoError(t, err)
	must.SliceEmpty(t, none)
}

// testRecordConcurrentCAS: read-modify-write-retry from many goroutines
// loses no increment.
func testRecordConcurrentCAS(t *testing.T, s RecordStore) {
	ctx := context.Background()
	must.NoError(t, s.PutRecord(ctx, &store.Record{Kind: store.KindUser, Key: "n", Value: []byte("0")}))
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					r, err := s.GetRecord(ctx, store.KindUser, "n")
					if err != nil {
						errs <- err
						return
					}
					n, _ := strconv.Atoi(string(r.Value))
					r.Value = []byte(strconv.Itoa(n + 1))
					err = s.PutRecord(ctx, r)
					if err == nil {
						break
					}
					if err != store.ErrConflict {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must.NoError(t, err)
	}
	r, err := s.GetRecord(ctx, store.KindUser, "n")
	must.NoError(t, err)
	must.Eq(t, strconv.Itoa(workers*each), string(r.Value))
}

func testAudit(t *testing.T, s RecordStore) {
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []*api.AuditEntry
	for i := range 10 {
		e := &api.AuditEntry{
			Time:    base.Add(time.Duration(i) * time.Minute),
			Actor:   []string{"alice", "bob"}[i%2],
			Action:  []string{"job.submit", "job.stop", "login"}[i%3],
			Target:  "job " + strconv.Itoa(i),
			Outcome: api.OutcomeOK,
			From:    "unix",
		}
		must.NoError(t, s.AppendAudit(ctx, e))
		must.Positive(t, e.ID)
		if len(want) > 0 {
			must.Greater(t, want[len(want)-1].ID, e.ID)
		}
		want = append(want, e)
	}
	all, err := s.ListAudit(ctx, store.AuditFilter{})
	must.NoError(t, err)
	must.SliceLen(t, 10, all)
	for i, e := range all { // newest first
		w := want[9-i]
		must.Eq(t, w.ID, e.ID)
		must.Eq(t, w.Actor, e.Actor)
		must.Eq(t, w.Action, e.Action)
		must.Eq(t, w.Target, e.Target)
		must.True(t, w.Time.Equal(e.Time))
	}
	alice, err := s.ListAudit(ctx, store.AuditFilter{Actor: "alice"})
	must.NoError(t, err)
	must.SliceLen(t, 5, alice)
	for _, e := range alice {
		must.Eq(t, "alice", e.Actor)
	}
	stops, err := s.ListAudit(ctx, store.AuditFilter{Action: "job.stop", Actor: "alice"})
	must.NoError(t, err)
	for _, e := range stops {
		must.Eq(t, "job.stop", e.Action)
		must.Eq(t, "alice", e.Actor)
	}
	must.SliceLen(t, 1, stops) // stops are i = 1, 4, 7; alice's are the even i
	recent, err := s.ListAudit(ctx, store.AuditFilter{Since: base.Add(7 * time.Minute)})
	must.NoError(t, err)
	must.SliceLen(t, 3, recent)
	window, err := s.ListAudit(ctx, store.AuditFilter{Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)})
	must.NoError(t, err)
	must.SliceLen(t, 2, window)
	page, err := s.ListAudit(ctx, store.AuditFilter{Limit: 3})
	must.NoError(t, err)
	must.SliceLen(t, 3, page)
	next, err := s.ListAudit(ctx, store.AuditFilter{Limit: 3, BeforeID: page[2].ID})
	must.NoError(t, err)
	must.SliceLen(t, 3, next)
	must.Eq(t, want[6].ID, next[0].ID)
}
