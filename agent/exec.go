package agent

import (
	"context"
	"errors"
	"net/http"

	"github.com/godocker/god/agent/gateway"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/store"
)

// Exec opens a session running opts.Command in a running job's container,
// as the job's user. Only the job's owner or an admin may: a shell in a
// job is more than managing it, so project members who share jobs may
// not.
func (a *Agent) Exec(ctx context.Context, caller *api.Caller, id int64, opts *api.ExecOptions) (*gateway.Session, error) {
	if len(opts.Command) == 0 {
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid session request", Fields: []api.FieldError{{Field: "command", Message: "the command to run, e.g. bash"}}}
	}
	j, err := a.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "job %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if !owns(caller, j) && !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: job %d belongs to another user", id)
	}
	execer, ok := a.exec.(executor.Execer)
	switch {
	case !ok || !executor.Has(a.exec.Capabilities(), executor.CapExec):
		return nil, errorf(http.StatusNotImplemented, "the %s executor cannot open sessions into jobs", a.exec.Name())
	case j.IsArray():
		return nil, errorf(http.StatusConflict, "job %d is an array: open the session into one of its tasks (god job status %d lists them)", id, id)
	case !j.Running():
		return nil, errorf(http.StatusConflict, "job %d is %s: sessions open into running jobs only", id, j.Status.Primary)
	case j.Status.Secondary == api.SecondarySuspended:
		return nil, errorf(http.StatusConflict, "job %d is suspended: resume it first (god job resume %d)", id, id)
	}
	s, err := a.sessions.Open(id, func() (executor.ExecSession, error) {
		return execer.Exec(ctx, id, executor.ExecRequest{Cmd: opts.Command, TTY: opts.TTY, Rows: opts.Rows, Cols: opts.Cols})
	})
	switch {
	case errors.Is(err, gateway.ErrTooMany):
		return nil, errorf(http.StatusTooManyRequests, "%v", err)
	case errors.Is(err, executor.ErrNotFound):
		return nil, errorf(http.StatusConflict, "job %d's container is gone: it is ending", id)
	case err != nil:
		return nil, errorf(http.StatusConflict, "cannot open a session into job %d: %v", id, err)
	}
	return s, nil
}
