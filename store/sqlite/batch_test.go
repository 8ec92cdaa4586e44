package sqlite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/job"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/storetest"
)

// A batch is stored whole with consecutive ids, or, when one job's submit
// key is taken, not at all: the other jobs are not stored and keep no id.
func TestCreateBatch(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	jobs := []*job.Job{storetest.NewJob(1, 1), storetest.NewJob(1, 2), storetest.NewJob(2, 3)}
	jobs[1].SubmitKey = "1:k"
	must.NoError(t, s.CreateBatch(ctx, jobs))
	for i, j := range jobs {
		must.Eq(t, jobs[0].ID+int64(i), j.ID)
		got, err := s.Get(ctx, j.ID)
		must.NoError(t, err)
		must.Eq(t, j.Spec.Name, got.Spec.Name)
	}

	again := []*job.Job{storetest.NewJob(1, 4), storetest.NewJob(1, 5)}
	again[1].SubmitKey = "1:k"
	err := s.CreateBatch(ctx, again)
	var dup *store.DuplicateError
	must.True(t, errors.As(err, &dup), must.Sprint(err))
	must.Eq(t, jobs[1].ID, dup.ID)
	must.Eq(t, int64(0), again[0].ID)
	all, err := s.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.SliceLen(t, 3, all, must.Sprint("nothing of the refused batch is stored"))
}
