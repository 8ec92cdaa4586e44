package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/godocker/god/plugins/executor"
)

var _ executor.Execer = (*Executor)(nil)

// Exec implements executor.Execer with a Docker exec. It runs as the
// container's configured user (the job's uid:gid; the engine adds the
// container's supplementary groups), never privileged; the container's
// no-new-privileges and dropped capabilities hold for it too.
func (e *Executor) Exec(ctx context.Context, jobID int64, req executor.ExecRequest) (executor.ExecSession, error) {
	if len(req.Cmd) == 0 {
		return nil, errors.New("exec: no command")
	}
	st, err := e.Inspect(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if !st.Running || st.Paused {
		return nil, fmt.Errorf("the container of job %d is not running", jobID)
	}
	res, err := e.cli.ContainerInspect(ctx, st.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspecting container of job %d: %w", jobID, err)
	}
	user := res.Container.Config.User
	if user == "" {
		return nil, fmt.Errorf("the container of job %d has no user set", jobID)
	}
	size := client.ConsoleSize{}
	if req.TTY && req.Rows > 0 && req.Cols > 0 {
		size = client.ConsoleSize{Height: req.Rows, Width: req.Cols}
	}
	created, err := e.cli.ExecCreate(ctx, st.ID, client.ExecCreateOptions{
		User:         user,
		TTY:          req.TTY,
		ConsoleSize:  size,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		Env:          req.Env,
		Cmd:          req.Cmd, // in the container's working directory, the job's
	})
	if cerrdefs.IsConflict(err) {
		return nil, fmt.Errorf("the container of job %d is not running", jobID)
	}
	if err != nil {
		return nil, fmt.Errorf("creating exec in job %d: %w", jobID, err)
	}
	att, err := e.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: req.TTY, ConsoleSize: size})
	if err != nil {
		return nil, fmt.Errorf("starting exec in job %d: %w", jobID, err)
	}
	s := &execSession{cli: e.cli, id: created.ID, att: att.HijackedResponse}
	if req.TTY {
		s.stdout = att.Reader
		if size.Height > 0 {
			// Engines before API 1.42 ignore the size given at creation.
			s.initialSize(ctx, size)
		}
	} else {
		// One multiplexed stream: split it.
		outR, outW := io.Pipe()
		errR, errW := io.Pipe()
		s.stdout, s.stderr = outR, errR
		go func() {
			_, err := stdcopy.StdCopy(outW, errW, att.Reader)
			outW.CloseWithError(err)
			errW.CloseWithError(err)
		}()
	}
	return s, nil
}

type execSession struct {
	cli            *client.Client
	id             string
	att            client.HijackedResponse
	stdout, stderr io.Reader
}

func (s *execSession) Stdin() io.WriteCloser { return stdinOf{s} }
func (s *execSession) Stdout() io.Reader     { return s.stdout }
func (s *execSession) Stderr() io.Reader     { return s.stderr }

func (s *execSession) Resize(ctx context.Context, rows, cols uint) error {
	_, err := s.cli.ExecResize(ctx, s.id, client.ExecResizeOptions{Height: rows, Width: cols})
	return err
}

// initialSize sets the terminal's size once the command runs: the engine
// refuses a resize until then.
func (s *execSession) initialSize(ctx context.Context, size client.ConsoleSize) {
	for range 50 {
		if s.Resize(ctx, size.Height, size.Width) == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Wait asks the engine for the exit code: the output ends a moment before
// the engine records it.
func (s *execSession) Wait(ctx context.Context) (int, error) {
	for {
		res, err := s.cli.ExecInspect(ctx, s.id, client.ExecInspectOptions{})
		if err != nil {
			return -1, fmt.Errorf("inspecting exec: %w", err)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *execSession) Close() error {
	s.att.Close()
	return nil
}

// stdinOf writes to the exec's connection; Close half-closes it, which
// the engine passes on as end of input.
type stdinOf struct{ s *execSession }

func (w stdinOf) Write(p []byte) (int, error) { return w.s.att.Conn.Write(p) }
func (w stdinOf) Close() error                { return w.s.att.CloseWrite() }
