// Package fake is an in-memory executor for scheduler tests and benchmarks
// only: it runs nothing. It is never selectable in the agent configuration;
// executors are tested against their real engines.
package fake

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/godocker/god/plugins/executor"
)

// Executor pretends to start containers: a started task runs until Finish
// or Kill is called.
type Executor struct {
	capacity executor.Capacity

	mu     sync.Mutex
	tasks  map[int64]*executor.State
	given  map[int64]executor.Task // what Start was given, by job id
	starts int
	events chan executor.Event
}

var _ executor.Executor = (*Executor)(nil)

// New returns a fake executor with the given capacity (GPUs included: the
// fake has as many as it is told).
func New(capacity executor.Capacity) *Executor {
	return &Executor{capacity: capacity, tasks: map[int64]*executor.State{}, given: map[int64]executor.Task{}, events: make(chan executor.Event, 1024)}
}

// Name implements executor.Executor.
func (e *Executor) Name() string { return "fake" }

// Capabilities implements executor.Executor.
func (e *Executor) Capabilities() []executor.Capability {
	return []executor.Capability{executor.CapKill, executor.CapPause, executor.CapGPUs}
}

// Capacity implements executor.Executor.
func (e *Executor) Capacity(context.Context) (executor.Capacity, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.capacity, nil
}

// SetCapacity changes the capacity reported from now on.
func (e *Executor) SetCapacity(c executor.Capacity) {
	e.mu.Lock()
	e.capacity = c
	e.mu.Unlock()
}

// Start implements executor.Executor.
func (e *Executor) Start(_ context.Context, t *executor.Task) (*executor.State, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st, ok := e.tasks[t.JobID]; ok {
		c := *st
		return &c, nil
	}
	e.starts++
	e.given[t.JobID] = *t
	st := &executor.State{JobID: t.JobID, ID: fmt.Sprintf("fake-%d", t.JobID), Name: fmt.Sprintf("fake-%d", t.JobID), Owner: t.Owner, Running: true, StartedAt: time.Now()}
	e.tasks[t.JobID] = st
	c := *st
	return &c, nil
}

// Task returns the task Start was given for a job, if it was started.
func (e *Executor) Task(jobID int64) (executor.Task, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.given[jobID]
	return t, ok
}

// Starts is how many containers were started in all.
func (e *Executor) Starts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.starts
}

// Finish ends a running task with an exit code, paused or not.
func (e *Executor) Finish(jobID int64, code int) {
	e.mu.Lock()
	st, ok := e.tasks[jobID]
	if ok && st.Running {
		st.Running, st.Paused, st.ExitCode, st.FinishedAt = false, false, code, time.Now()
	}
	e.mu.Unlock()
	if ok {
		e.events <- executor.Event{JobID: jobID}
	}
}

// GiveBack ends a task as an engine that could not place it does: not
// running, Requeue set, the reason in Error.
func (e *Executor) GiveBack(jobID int64, reason string) {
	e.mu.Lock()
	st, ok := e.tasks[jobID]
	if ok {
		st.Running, st.Requeue, st.Error = false, true, reason
	}
	e.mu.Unlock()
	if ok {
		e.events <- executor.Event{JobID: jobID}
	}
}

// Inspect implements executor.Executor.
func (e *Executor) Inspect(_ context.Context, jobID int64) (*executor.State, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.tasks[jobID]
	if !ok {
		return nil, executor.ErrNotFound
	}
	c := *st
	return &c, nil
}

// List implements executor.Executor.
func (e *Executor) List(context.Context) ([]*executor.State, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*executor.State, 0, len(e.tasks))
	for _, st := range e.tasks {
		c := *st
		out = append(out, &c)
	}
	return out, nil
}

// Stop implements executor.Executor: the task ends as a process that
// SIGTERM ended would (exit code 143).
func (e *Executor) Stop(_ context.Context, jobID int64) error {
	e.Finish(jobID, 143)
	return nil
}

// Kill implements executor.Executor.
func (e *Executor) Kill(_ context.Context, jobID int64) error {
	e.Finish(jobID, 137)
	return nil
}

// Pause implements executor.Executor: the task is marked paused. Like the
// engine, it refuses to pause a task that is not running.
func (e *Executor) Pause(_ context.Context, jobID int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.tasks[jobID]
	if !ok {
		return executor.ErrNotFound
	}
	if !st.Running {
		return fmt.Errorf("pausing task of job %d: not running", jobID)
	}
	st.Paused = true
	return nil
}

// Unpause implements executor.Executor.
func (e *Executor) Unpause(_ context.Context, jobID int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.tasks[jobID]
	if !ok {
		return executor.ErrNotFound
	}
	st.Paused = false
	return nil
}

// Remove implements executor.Executor.
func (e *Executor) Remove(_ context.Context, jobID int64) error {
	e.mu.Lock()
	delete(e.tasks, jobID)
	delete(e.given, jobID)
	e.mu.Unlock()
	return nil
}

// Events implements executor.Executor.
func (e *Executor) Events(ctx context.Context) (<-chan executor.Event, error) {
	out := make(chan executor.Event)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-e.events:
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
