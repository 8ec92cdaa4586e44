package executor

import (
	"context"
	"io"
)

// Execer is an executor that can run a command inside a job's running
// container (CapExec): the gateway's shells and commands.
type Execer interface {
	// Exec starts cmd in the job's container as the container's own user
	// (the job's uid and gid, never more), without privileges.
	Exec(ctx context.Context, jobID int64, req ExecRequest) (ExecSession, error)
}

// ExecRequest is a command to run in a job's container.
type ExecRequest struct {
	Cmd []string
	// TTY gives the command a terminal of Rows x Cols; its output is then
	// one stream (Stdout).
	TTY        bool
	Rows, Cols uint
	Env        []string // added to the container's
}

// ExecSession is a running command.
type ExecSession interface {
	// Stdin feeds the command; closing it is end of input.
	Stdin() io.WriteCloser
	// Stdout is the command's output; with a TTY, all of it.
	Stdout() io.Reader
	// Stderr is the command's error output; nil with a TTY.
	Stderr() io.Reader
	Resize(ctx context.Context, rows, cols uint) error
	// Wait returns the command's exit code once its output has ended.
	Wait(ctx context.Context) (int, error)
	// Close ends the session; the command gets SIGHUP from its terminal,
	// or end of input without one.
	Close() error
}
