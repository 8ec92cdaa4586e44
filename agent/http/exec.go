package http

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/godocker/god/api"
)

// exec serves GET /v1/job/{id}/exec: the backend checks the caller and
// starts the command, then the request becomes a websocket carrying the
// session (api's exec protocol). Refusals are plain JSON errors, before
// the upgrade. Every session opened or refused is audited with its
// command.
func (s *server) exec(w http.ResponseWriter, r *http.Request) {
	caller, err := s.caller(r)
	if err != nil {
		s.b.Record(r.Context(), &api.Caller{Address: r.RemoteAddr}, "job.exec", target(r, nil), err)
		s.fail(w, r, err)
		return
	}
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	opts, err := execOptions(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	what := target(r, nil) + ": " + strings.Join(opts.Command, " ")
	if len(what) > 200 {
		what = what[:200] + "..."
	}
	session, err := s.b.Exec(r.Context(), caller, id, opts)
	s.b.Record(r.Context(), caller, "job.exec", what, err)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		session.Close() // Accept has answered the client
		return
	}
	res := session.Serve(r.Context(), conn)
	s.log.Debug("session ended", "job_id", id, "user", caller.Name, "exit_code", res.ExitCode, "error", res.Error)
}

// execOptions reads the session's command and terminal from the query.
func execOptions(r *http.Request) (*api.ExecOptions, error) {
	q := r.URL.Query()
	opts := &api.ExecOptions{Command: q["command"], TTY: q.Get("tty") == "true"}
	for _, f := range []struct {
		name string
		dst  *uint
	}{{"rows", &opts.Rows}, {"cols", &opts.Cols}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return nil, badRequest("invalid terminal size", api.FieldError{Field: f.name, Message: "a positive number of " + f.name + ", got " + strconv.Quote(v)})
		}
		*f.dst = uint(n)
	}
	return opts, nil
}
