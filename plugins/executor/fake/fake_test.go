package fake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
)

// TestPauseUnpause: the fake declares CapPause; Pause and Unpause set
// State.Paused, are idempotent, and report ErrNotFound for unknown jobs;
// a stopped task cannot be paused; Kill ends a paused task.
func TestPauseUnpause(t *testing.T) {
	ctx := context.Background()
	e := fake.New(executor.Capacity{CPU: 4, Memory: 1 << 30})
	must.True(t, executor.Has(e.Capabilities(), executor.CapPause))

	must.ErrorIs(t, e.Pause(ctx, 404), executor.ErrNotFound)
	must.ErrorIs(t, e.Unpause(ctx, 404), executor.ErrNotFound)

	_, err := e.Start(ctx, &executor.Task{JobID: 1})
	must.NoError(t, err)
	paused := func() bool {
		t.Helper()
		st, err := e.Inspect(ctx, 1)
		must.NoError(t, err)
		must.True(t, st.Running)
		return st.Paused
	}
	must.False(t, paused())

	must.NoError(t, e.Unpause(ctx, 1)) // not paused: no-op
	must.False(t, paused())
	must.NoError(t, e.Pause(ctx, 1))
	must.True(t, paused())
	must.NoError(t, e.Pause(ctx, 1)) // already paused: no-op
	must.True(t, paused())
	must.NoError(t, e.Unpause(ctx, 1))
	must.False(t, paused())
	must.NoError(t, e.Unpause(ctx, 1))
	must.False(t, paused())

	// Kill of a paused task ends it, no longer paused.
	must.NoError(t, e.Pause(ctx, 1))
	must.NoError(t, e.Kill(ctx, 1))
	st, err := e.Inspect(ctx, 1)
	must.NoError(t, err)
	must.False(t, st.Running)
	must.False(t, st.Paused)
	must.Eq(t, 137, st.ExitCode)

	// A stopped task cannot be paused; unpausing it is a no-op.
	err = e.Pause(ctx, 1)
	must.Error(t, err)
	must.False(t, errors.Is(err, executor.ErrNotFound))
	must.NoError(t, e.Unpause(ctx, 1))
}
