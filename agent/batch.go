package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/store"
)

// SubmitBatch submits several jobs in one request, all or none: every item
// is checked as Submit checks one, and if any is refused the answer names
// each refused item's fields as jobs[i].field and nothing is stored. An
// item whose key the caller used before returns the job that key created.
// It returns once every job is durable, in the order of the items.
//
// On a store that writes a batch atomically (SQLite) the new jobs are one
// write. On another (Redis) they are stored one by one, concurrently: if
// that fails midway the stored ones stay, and the client's retry with the
// same keys stores only the rest.
func (a *Agent) SubmitBatch(ctx context.Context, caller *api.Caller, items []api.BatchItem) ([]*api.Job, error) {
	out := make([]*api.Job, len(items))
	var (
		fresh []*job.Job
		at    []int           // item index of each fresh job
		same  = map[int]int{} // item index -> earlier item with the same key
		keyAt = map[string]int{}
		fe    []api.FieldError
	)
	for i := range items {
		it := &items[i]
		key := ""
		if it.Key != "" {
			key = callerKey(caller, it.Key)
			if first, dup := keyAt[key]; dup {
				same[i] = first
				continue
			}
			keyAt[key] = i
			j, err := a.bySubmitKey(ctx, key)
			if err != nil {
				return nil, err
			}
			if j != nil {
				out[i] = j
				continue
			}
		}
		if it.Spec.Array != "" {
			fe = append(fe, api.FieldError{Field: fmt.Sprintf("jobs[%d].array", i), Message: "an array is submitted on its own, not in a batch (god job run with that one file)"})
			continue
		}
		j, err := a.newJob(ctx, caller, &it.Spec, key)
		var refused *Error
		switch {
		case errors.As(err, &refused) && refused.Code == http.StatusBadRequest:
			for _, f := range refused.Fields {
				fe = append(fe, api.FieldError{Field: fmt.Sprintf("jobs[%d].%s", i, f.Field), Message: f.Message})
			}
			if len(refused.Fields) == 0 {
				fe = append(fe, api.FieldError{Field: fmt.Sprintf("jobs[%d]", i), Message: refused.Msg})
			}
			continue
		case err != nil:
			return nil, err
		}
		fresh = append(fresh, j)
		at = append(at, i)
	}
	if len(fe) > 0 {
		return nil, &Error{Code: http.StatusBadRequest, Fields: fe,
			Msg: fmt.Sprintf("jobs refused: nothing of the %d was submitted; fix them and submit again", len(items))}
	}
	if len(fresh) > 1 {
		// newJob checked each job alone against the caps.
		if err := a.rateLimit(caller, len(fresh)); err != nil {
			return nil, err
		}
	}
	stored, err := a.createBatch(ctx, fresh)
	for k, j := range fresh {
		if stored[k] {
			a.queued(j)
			out[at[k]] = j.API()
		}
	}
	if len(fresh) > 0 {
		a.changes.notify()
		a.Wake()
	}
	if err != nil {
		return nil, err
	}
	for i, first := range same {
		out[i] = out[first]
	}
	return out, nil
}

// createBatch stores new jobs and reports which were stored: all or none
// where the store writes batches atomically, else each on its own. A job
// whose key a concurrent retry of the same request stored meanwhile takes
// that job's identity instead.
func (a *Agent) createBatch(ctx context.Context, jobs []*job.Job) ([]bool, error) {
	stored := make([]bool, len(jobs))
	if len(jobs) == 0 {
		return stored, nil
	}
	if bc, ok := a.store.(store.BatchCreator); ok {
		err := bc.CreateBatch(ctx, jobs)
		var dup *store.DuplicateError
		switch {
		case err == nil:
			for i := range stored {
				stored[i] = true
			}
			return stored, nil
		case errors.As(err, &dup):
			// Rare: a retry raced this request. Store one by one, where
			// each duplicate resolves to its job.
		case !errors.Is(err, store.ErrBatchUnsupported):
			_, err = a.stored(ctx, err)
			return stored, err
		}
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // concurrent writes share group commits
	for i, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = a.store.Create(ctx, j)
			var dup *store.DuplicateError
			if errors.As(errs[i], &dup) {
				var got *job.Job
				if got, errs[i] = a.store.Get(ctx, dup.ID); errs[i] == nil {
					*j = *got
				}
			}
			stored[i] = errs[i] == nil
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			_, err = a.stored(ctx, err)
			return stored, fmt.Errorf("job %d of the batch (%d of %d stored): %w", i, count(stored), len(jobs), err)
		}
	}
	return stored, nil
}

func count(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}
