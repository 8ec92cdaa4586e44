package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/store"
)

// testSubmitKey: a job created with a submit key is the only one with it;
// a second create with the key (a retried submit) stores nothing and names
// the first; concurrent creates with one key make one job; an array's key
// is its parent's; deleting the job frees the key.
func testSubmitKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetBySubmitKey(ctx, "1001:none")
	must.ErrorIs(t, err, store.ErrNotFound)

	first := NewJob(1001, 1)
	first.SubmitKey = "1001:k1"
	must.NoError(t, s.Create(ctx, first))
	got, err := s.GetBySubmitKey(ctx, "1001:k1")
	must.NoError(t, err)
	RequireSameJob(t, first, got)

	again := NewJob(1001, 2)
	again.SubmitKey = "1001:k1"
	err = s.Create(ctx, again)
	var dup *store.DuplicateError
	must.True(t, errors.As(err, &dup), must.Sprintf("got %v", err))
	must.Eq(t, first.ID, dup.ID)
	must.Zero(t, again.ID, must.Sprint("the refused job is given no id"))

	// Keyless jobs never collide; another user's key is another key.
	must.NoError(t, s.Create(ctx, NewJob(1001, 3)))
	must.NoError(t, s.Create(ctx, NewJob(1001, 4)))
	other := NewJob(1002, 1)
	other.SubmitKey = "1002:k1"
	must.NoError(t, s.Create(ctx, other))

	// Racing retries of one submit: one job.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []int64
		named   = map[int64]int{}
		errs    errs
	)
	for w := range 8 {
		wg.Go(func() {
			j := NewJob(1003, w)
			j.SubmitKey = "1003:race"
			err := s.Create(ctx, j)
			mu.Lock()
			defer mu.Unlock()
			var dup *store.DuplicateError
			switch {
			case err == nil:
				created = append(created, j.ID)
			case errors.As(err, &dup):
				named[dup.ID]++
			default:
				errs.add(fmt.Errorf("worker %d: %w", w, err))
			}
		})
	}
	wg.Wait()
	errs.check(t)
	must.SliceLen(t, 1, created, must.Sprint("one of the racing creates stores the job"))
	must.Eq(t, map[int64]int{created[0]: 7}, named, must.Sprint("the others name it"))

	// Arrays: the parent holds the key, all or nothing.
	parent, tasks := NewArray(1004, 1, 3)
	parent.SubmitKey = "1004:arr"
	must.NoError(t, s.CreateArray(ctx, parent, tasks))
	p2, t2 := NewArray(1004, 1, 3)
	p2.SubmitKey = "1004:arr"
	err = s.CreateArray(ctx, p2, t2)
	must.True(t, errors.As(err, &dup), must.Sprintf("got %v", err))
	must.Eq(t, parent.ID, dup.ID)
	all, err := s.List(ctx, store.Filter{UID: new(1004)})
	must.NoError(t, err)
	must.Len(t, 4, all, must.Sprint("the refused array stored no task"))
	got, err = s.GetBySubmitKey(ctx, "1004:arr")
	must.NoError(t, err)
	must.Eq(t, parent.ID, got.ID)

	// An update keeps the key; a delete frees it.
	got, err = s.GetBySubmitKey(ctx, "1001:k1")
	must.NoError(t, err)
	got.Spec.Description = "changed"
	must.NoError(t, s.Update(ctx, got))
	_, err = s.GetBySubmitKey(ctx, "1001:k1")
	must.NoError(t, err)
	must.NoError(t, s.Delete(ctx, first.ID))
	_, err = s.GetBySubmitKey(ctx, "1001:k1")
	must.ErrorIs(t, err, store.ErrNotFound)
	reuse := NewJob(1001, 5)
	reuse.SubmitKey = "1001:k1"
	must.NoError(t, s.Create(ctx, reuse))
}
