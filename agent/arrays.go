package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/jobspec"
	"github.com/godocker/god/store"
)

// submitArray stores an array parent and its tasks atomically. The parent
// runs no container: it is running from the start and ends when its last
// task ends. Tasks are ordinary pending jobs with a task id.
func (a *Agent) submitArray(ctx context.Context, parent *job.Job) (*api.Job, error) {
	first, last, step, _ := jobspec.ParseArray(parent.Spec.Array) // validated
	ids := jobspec.ArrayTasks(first, last, step)
	// The last task, not the end as written: 0:8:3 ends at 6.
	parent.Array = &job.Array{First: first, Last: ids[len(ids)-1], Step: step, Throttle: parent.Spec.Throttle}
	tasks := make([]*job.Job, len(ids))
	for i, taskID := range ids {
		t := *parent
		t.Array = nil
		t.Spec.Array, t.Spec.Throttle = "", 0
		t.SubmitKey = "" // the parent's: one submit, one key
		t.TaskID = taskID
		tasks[i] = &t
	}
	now := time.Now().UTC()
	parent.Status = api.Status{Primary: api.StateRunning}
	parent.Dates.Started = &now
	parent.Held, parent.HeldBy = false, "" // holding applies to the tasks
	parent.MaxLifespan = 0                 // so does the lifespan, from each task's start
	if err := a.store.CreateArray(ctx, parent, tasks); err != nil {
		return a.stored(ctx, err)
	}
	a.mu.Lock()
	a.arrayLeft[parent.ID] = len(tasks)
	a.mu.Unlock()
	for _, t := range tasks {
		a.queued(t)
	}
	a.changes.notify()
	a.Wake()
	return a.view(ctx, parent)
}

// dirOf is a job's directory: jobs/<id>, or jobs/<array id>/<task id> for
// an array task (Go-Docker's layout).
func (a *Agent) dirOf(j *job.Job) string {
	if j.ParentID != 0 {
		return filepath.Join(a.jobDir(j.ParentID), strconv.Itoa(j.TaskID))
	}
	return a.jobDir(j.ID)
}

// taskEnv gives a task its place in the array, under both the current
// names and the historical GOGOCKER_ spelling that Go-Docker scripts use.
func taskEnv(t *job.Job, arr *job.Array) []string {
	var env []string
	for _, prefix := range []string{"GODOCKER_TASK_", "GOGOCKER_TASK_"} {
		env = append(env,
			prefix+"ID="+strconv.Itoa(t.TaskID),
			prefix+"FIRST="+strconv.Itoa(arr.First),
			prefix+"LAST="+strconv.Itoa(arr.Last),
			prefix+"STEP="+strconv.Itoa(arr.Step),
		)
	}
	return env
}

// taskOver counts down an array's tasks and ends the array with its last.
func (a *Agent) taskOver(ctx context.Context, parentID int64) {
	a.mu.Lock()
	left, known := a.arrayLeft[parentID]
	if known {
		left--
		a.arrayLeft[parentID] = left
	}
	a.mu.Unlock()
	if known && left <= 0 {
		a.endArray(ctx, parentID)
	}
}

// endArray ends an array whose tasks are all over. Its exit code is the
// highest of its tasks' (1 for a task that never ran), so 0 means every
// task succeeded.
func (a *Agent) endArray(ctx context.Context, parentID int64) {
	tasks, err := a.store.List(ctx, store.Filter{ParentID: parentID})
	if err != nil {
		a.watchLog.Error("listing array tasks", "job_id", parentID, "error", err)
		return
	}
	code, failed := 0, 0
	for _, t := range tasks {
		if !t.Over() {
			return // not done after all (counted wrong): the next end retries
		}
		c := 1
		if t.Status.ExitCode != nil {
			c = *t.Status.ExitCode
		}
		if c != 0 {
			failed++
		}
		code = max(code, c)
	}
	a.mu.Lock()
	delete(a.arrayLeft, parentID)
	a.mu.Unlock()
	_, _, err = a.mutate(ctx, parentID, func(j *job.Job) bool {
		if !j.Running() {
			return false
		}
		secondary, reason := "", ""
		if failed > 0 && !j.KillRequested {
			secondary, reason = api.SecondaryFailed, fmt.Sprintf("%d of %d tasks failed", failed, len(tasks))
		}
		j.MarkOver(new(code), secondary, reason, time.Now())
		return true
	})
	if err != nil {
		a.watchLog.Error("ending array", "job_id", parentID, "error", err)
	}
}

// tasks lists an array's tasks in the given states.
func (a *Agent) tasks(ctx context.Context, parentID int64, states ...string) ([]*job.Job, error) {
	return a.store.List(ctx, store.Filter{ParentID: parentID, States: states, Ascending: true})
}

// killTasks stops every task of an array that is not over yet.
func (a *Agent) killTasks(ctx context.Context, parentID int64, reason string) error {
	tasks, err := a.tasks(ctx, parentID, api.StatePending, api.StateRunning)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if err := a.kill(ctx, t.ID, reason); err != nil {
			return err
		}
	}
	return nil
}

// loadArrays rebuilds, at start-up, how many tasks each running array
// still waits for; it ends arrays whose last task ended just before a
// crash and carries on stopping arrays whose stop was interrupted.
func (a *Agent) loadArrays(ctx context.Context) error {
	running, err := a.store.List(ctx, store.Filter{States: []string{api.StateRunning}})
	if err != nil {
		return err
	}
	for _, p := range running {
		if !p.IsArray() {
			continue
		}
		tasks, err := a.tasks(ctx, p.ID, api.StatePending, api.StateRunning)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.arrayLeft[p.ID] = len(tasks)
		a.mu.Unlock()
		switch {
		case len(tasks) == 0:
			a.endArray(ctx, p.ID)
		case p.KillRequested:
			if err := a.killTasks(ctx, p.ID, p.KillReason); err != nil {
				return err
			}
		}
	}
	return nil
}

// view is the API form of a job, with an array's summary of its tasks.
func (a *Agent) view(ctx context.Context, j *job.Job) (*api.Job, error) {
	out := j.API()
	if !j.IsArray() {
		return out, nil
	}
	tasks, err := a.store.List(ctx, store.Filter{ParentID: j.ID})
	if err != nil {
		return nil, err
	}
	sum := &api.ArraySummary{First: j.Array.First, Last: j.Array.Last, Step: j.Array.Step, Throttle: j.Array.Throttle, Tasks: len(tasks), States: map[string]int{}}
	if len(tasks) > 0 {
		sum.FirstTaskID, sum.LastTaskID = tasks[0].ID, tasks[0].ID
	}
	for _, t := range tasks {
		sum.FirstTaskID, sum.LastTaskID = min(sum.FirstTaskID, t.ID), max(sum.LastTaskID, t.ID)
		state := t.Status.Primary
		if t.Status.Secondary == api.SecondarySuspended || t.Held {
			state = t.Status.Secondary
		}
		sum.States[state]++
		if t.Over() {
			if sum.ExitCodes == nil {
				sum.ExitCodes = map[string]int{}
			}
			code := "never ran"
			if t.Status.ExitCode != nil {
				code = strconv.Itoa(*t.Status.ExitCode)
			}
			sum.ExitCodes[code]++
		}
	}
	out.Array = sum
	return out, nil
}
