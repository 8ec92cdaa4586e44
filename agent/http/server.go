// Package http serves the GoDocker HTTP API (/v1/...) over the agent's
// listeners. It identifies callers from the kernel (see agent/identity) and
// leaves every decision to the Backend.
package http

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/api"
)

// Backend is what the API needs from the agent.
type Backend interface {
	Caller(ctx context.Context, uid int) (api.User, error)
	Submit(ctx context.Context, caller api.User, spec *api.JobSpec) (*api.Job, error)
	Job(ctx context.Context, caller api.User, id, index int64, wait time.Duration) (*api.Job, error)
	Jobs(ctx context.Context, caller api.User, states []string, limit int) ([]*api.Job, error)
	Stop(ctx context.Context, caller api.User, id int64) (*api.Job, error)
	Hold(ctx context.Context, caller api.User, id int64) (*api.Job, error)
	Release(ctx context.Context, caller api.User, id int64) (*api.Job, error)
	Suspend(ctx context.Context, caller api.User, id int64) (*api.Job, error)
	Resume(ctx context.Context, caller api.User, id int64) (*api.Job, error)
	Update(ctx context.Context, caller api.User, id int64, u *api.JobUpdate) (*api.Job, error)
	Reschedule(ctx context.Context, caller api.User, id int64) (*api.Job, error)
	Archive(ctx context.Context, caller api.User, id int64, purge bool) (*api.ArchiveResponse, error)
	ArchiveOlder(ctx context.Context, caller api.User, r *api.ArchiveRequest) (*api.ArchiveResponse, error)
	Why(ctx context.Context, caller api.User, id int64) (*api.Explanation, error)
	Queue(ctx context.Context, caller api.User) ([]*api.QueueEntry, error)
	Usage(ctx context.Context, caller api.User) ([]*api.UsageEntry, error)
	Logs(ctx context.Context, caller api.User, id int64, stream string, offset int64, follow bool, w io.Writer, flush func()) error
	Self(caller api.User) *api.AgentSelf
}

// CodedError is an error with an HTTP status; others are 500s.
type CodedError interface {
	error
	StatusCode() int
}

// FieldErrorer carries per-field problems of a request.
type FieldErrorer interface {
	FieldErrors() []api.FieldError
}

// maxBody bounds a request body (a job spec with a 1 MiB script fits).
const maxBody = 4 << 20

// New returns the API server.
func New(b Backend, log hclog.Logger) *http.Server {
	s := &server{b: b, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/jobs", s.wrap(s.submit))
	mux.HandleFunc("GET /v1/jobs", s.wrap(s.list))
	mux.HandleFunc("GET /v1/job/{id}", s.wrap(s.get))
	mux.HandleFunc("DELETE /v1/job/{id}", s.wrap(s.stop))
	mux.HandleFunc("PATCH /v1/job/{id}", s.wrap(s.update))
	mux.HandleFunc("POST /v1/job/{id}/archive", s.wrap(s.archive))
	mux.HandleFunc("POST /v1/jobs/archive", s.wrap(s.archiveOlder))
	mux.HandleFunc("GET /v1/job/{id}/why", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return b.Why(r.Context(), caller, id)
	}))
	mux.HandleFunc("GET /v1/queue", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
		return b.Queue(r.Context(), caller)
	}))
	mux.HandleFunc("GET /v1/usage", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
		return b.Usage(r.Context(), caller)
	}))
	for verb, act := range map[string]func(context.Context, api.User, int64) (*api.Job, error){
		"hold": b.Hold, "release": b.Release, "suspend": b.Suspend, "resume": b.Resume, "reschedule": b.Reschedule,
	} {
		mux.HandleFunc("POST /v1/job/{id}/"+verb, s.wrap(s.action(act)))
	}
	mux.HandleFunc("GET /v1/job/{id}/logs", s.logs)
	mux.HandleFunc("GET /v1/agent/self", s.wrap(s.self))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &api.ErrorResponse{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return &http.Server{
		Handler:           mux,
		ConnContext:       identity.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

type server struct {
	b   Backend
	log hclog.Logger
}

type handler func(w http.ResponseWriter, r *http.Request, caller api.User) (any, error)

// wrap identifies the caller, runs h and writes its result or error as JSON.
func (s *server) wrap(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller, err := s.caller(r)
		if err == nil {
			var out any
			out, err = h(w, r, caller)
			if err == nil {
				w.Header().Set("Content-Type", "application/json")
				if r.Method == http.MethodPost && r.URL.Path == "/v1/jobs" {
					w.WriteHeader(http.StatusCreated)
				}
				_ = json.NewEncoder(w).Encode(out)
				return
			}
		}
		s.fail(w, r, err)
	}
}

func (s *server) caller(r *http.Request) (api.User, error) {
	p := identity.FromContext(r.Context())
	if !p.Known {
		return api.User{}, &codedError{http.StatusUnauthorized, "cannot identify you: connect through the agent's Unix socket (GOD_ADDR=unix:///path/god.sock) from this host"}
	}
	return s.b.Caller(r.Context(), p.UID)
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	var ce CodedError
	if errors.As(err, &ce) {
		code = ce.StatusCode()
	} else if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	resp := &api.ErrorResponse{Error: err.Error()}
	var fe FieldErrorer
	if errors.As(err, &fe) {
		resp.Fields = fe.FieldErrors()
	}
	if code == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		resp.Error = "internal error: " + err.Error()
	}
	writeError(w, code, resp)
}

func writeError(w http.ResponseWriter, code int, resp *api.ErrorResponse) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
}

type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string   { return e.msg }
func (e *codedError) StatusCode() int { return e.code }

func badRequest(msg string, fields ...api.FieldError) error {
	return &fieldsError{codedError{http.StatusBadRequest, msg}, fields}
}

type fieldsError struct {
	codedError
	fields []api.FieldError
}

func (e *fieldsError) FieldErrors() []api.FieldError { return e.fields }

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("invalid job id", api.FieldError{Field: "id", Message: "job ids are positive integers, got " + strconv.Quote(r.PathValue("id"))})
	}
	return id, nil
}

func (s *server) submit(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var spec api.JobSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, badRequest("invalid job spec JSON: " + err.Error())
	}
	j, err := s.b.Submit(r.Context(), caller, &spec)
	if err != nil {
		return nil, err
	}
	return &api.SubmitResponse{ID: j.ID, Msg: "Job submitted"}, nil
}

func (s *server) list(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, badRequest("invalid limit", api.FieldError{Field: "limit", Message: "a non-negative integer, got " + strconv.Quote(l)})
		}
		limit = n
	}
	jobs, err := s.b.Jobs(r.Context(), caller, q["state"], limit)
	if jobs == nil && err == nil {
		jobs = []*api.Job{}
	}
	return jobs, err
}

func (s *server) get(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var index int64
	var wait time.Duration
	if v := q.Get("index"); v != "" {
		if index, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, badRequest("invalid index", api.FieldError{Field: "index", Message: "an integer job version, got " + strconv.Quote(v)})
		}
	}
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil {
			return nil, badRequest("invalid wait", api.FieldError{Field: "wait", Message: "a duration such as 30s, got " + strconv.Quote(v)})
		}
	}
	return s.b.Job(r.Context(), caller, id, index, wait)
}

func (s *server) stop(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.b.Stop(r.Context(), caller, id)
}

// action serves the POST /v1/job/{id}/<verb> endpoints.
func (s *server) action(act func(context.Context, api.User, int64) (*api.Job, error)) handler {
	return func(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return act(r.Context(), caller, id)
	}
}

func (s *server) update(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var u api.JobUpdate
	if err := dec.Decode(&u); err != nil {
		return nil, badRequest("invalid update JSON: " + err.Error() + " (updatable fields: max_lifespan, throttle)")
	}
	return s.b.Update(r.Context(), caller, id, &u)
}

func (s *server) archive(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.b.Archive(r.Context(), caller, id, r.URL.Query().Get("purge") == "true")
}

func (s *server) archiveOlder(_ http.ResponseWriter, r *http.Request, caller api.User) (any, error) {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req api.ArchiveRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("invalid archive request JSON: " + err.Error())
	}
	return s.b.ArchiveOlder(r.Context(), caller, &req)
}

func (s *server) self(_ http.ResponseWriter, _ *http.Request, caller api.User) (any, error) {
	return s.b.Self(caller), nil
}

// logs streams raw text, so it writes its own headers; errors before the
// first byte are JSON like everywhere else.
func (s *server) logs(w http.ResponseWriter, r *http.Request) {
	caller, err := s.caller(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	var offset int64
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.ParseInt(v, 10, 64); err != nil || offset < 0 {
			s.fail(w, r, badRequest("invalid offset", api.FieldError{Field: "offset", Message: "a non-negative byte offset, got " + strconv.Quote(v)}))
			return
		}
	}
	follow := q.Get("follow") == "true"
	rc := http.NewResponseController(w)
	lw := &lazyWriter{w: w}
	err = s.b.Logs(r.Context(), caller, id, q.Get("stream"), offset, follow, lw, func() {
		lw.start()
		_ = rc.Flush()
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
	})
	if err != nil && !lw.started {
		s.fail(w, r, err)
	}
}

// lazyWriter sends the 200 header only with the first byte, so an error
// found before any output can still be a proper error answer.
type lazyWriter struct {
	w       http.ResponseWriter
	started bool
}

func (l *lazyWriter) start() {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		l.w.WriteHeader(http.StatusOK)
	}
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	l.start()
	return l.w.Write(p)
}
