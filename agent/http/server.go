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
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/agent/gateway"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
)

// Backend is what the API needs from the agent.
type Backend interface {
	Authenticate(ctx context.Context, c *Credentials) (*api.Caller, error)
	Submit(ctx context.Context, caller *api.Caller, spec *api.JobSpec) (*api.Job, error)
	// SubmitBatch submits items all or none: it stores nothing unless
	// every item is accepted, and returns their jobs in order.
	SubmitBatch(ctx context.Context, caller *api.Caller, items []api.BatchItem) ([]*api.Job, error)
	Job(ctx context.Context, caller *api.Caller, id, index int64, wait time.Duration) (*api.Job, error)
	Jobs(ctx context.Context, caller *api.Caller, opts *api.JobListOptions) ([]*api.Job, error)
	Stop(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error)
	Hold(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error)
	Release(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error)
	Suspend(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error)
	Resume(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error)
	Update(ctx context.Context, caller *api.Caller, id int64, u *api.JobUpdate) (*api.Job, error)
	Reschedule(ctx context.Context, caller *api.Caller, id int64) (*api.Job, error)
	Archive(ctx context.Context, caller *api.Caller, id int64, purge bool) (*api.ArchiveResponse, error)
	ArchiveOlder(ctx context.Context, caller *api.Caller, r *api.ArchiveRequest) (*api.ArchiveResponse, error)
	Why(ctx context.Context, caller *api.Caller, id int64) (*api.Explanation, error)
	Queue(ctx context.Context, caller *api.Caller) ([]*api.QueueEntry, error)
	Usage(ctx context.Context, caller *api.Caller) ([]*api.UsageEntry, error)
	ProjectUsage(ctx context.Context, caller *api.Caller, name string) (*api.ProjectUsage, error)
	GroupUsage(ctx context.Context, caller *api.Caller, group string) (*api.GroupUsage, error)
	Logs(ctx context.Context, caller *api.Caller, id int64, stream string, offset int64, follow bool, w io.Writer, flush func()) error
	// Exec opens a session into a running job (agent/gateway serves it).
	Exec(ctx context.Context, caller *api.Caller, id int64, opts *api.ExecOptions) (*gateway.Session, error)
	Self(caller *api.Caller) *api.AgentSelf
	// Health says whether the agent serves; ok false answers 503.
	Health(ctx context.Context) (h *api.AgentHealth, ok bool)
	Members(ctx context.Context, caller *api.Caller) ([]*api.Member, error)

	AccountBackend
}

// AccountBackend serves logins, accounts, projects and the audit log.
type AccountBackend interface {
	Login(ctx context.Context, c *Credentials, r *api.LoginRequest) (*api.LoginResponse, error)
	GuestLoginStart(ctx context.Context) (*api.GuestLoginStart, error)
	GuestLoginPoll(ctx context.Context, id string) (*api.GuestLoginResult, error)
	// GuestLoginCallback returns the text the browser shows.
	GuestLoginCallback(ctx context.Context, state, code, idpError string) (string, error)
	Logout(ctx context.Context, caller *api.Caller) error
	Account(ctx context.Context, caller *api.Caller, login string) (*api.Account, error)
	Accounts(ctx context.Context, caller *api.Caller) ([]*api.Account, error)
	UpdateAccount(ctx context.Context, caller *api.Caller, login string, u *api.AccountUpdate) (*api.Account, error)
	DeleteAccount(ctx context.Context, caller *api.Caller, login string) error
	RotateAPIKey(ctx context.Context, caller *api.Caller, login string) (*api.APIKeyResponse, error)
	Projects(ctx context.Context, caller *api.Caller) ([]*api.Project, error)
	Project(ctx context.Context, caller *api.Caller, name string) (*api.Project, error)
	CreateProject(ctx context.Context, caller *api.Caller, p *api.Project) (*api.Project, error)
	UpdateProject(ctx context.Context, caller *api.Caller, name string, u *api.ProjectUpdate) (*api.Project, error)
	DeleteProject(ctx context.Context, caller *api.Caller, name string) error
	AddMember(ctx context.Context, caller *api.Caller, project, login string) (*api.Project, error)
	RemoveMember(ctx context.Context, caller *api.Caller, project, login string) (*api.Project, error)
	Audit(ctx context.Context, caller *api.Caller, q *api.AuditQuery) ([]*api.AuditEntry, error)
	Volumes(ctx context.Context, caller *api.Caller) ([]*api.Volume, error)
	CreateVolume(ctx context.Context, caller *api.Caller, v *api.Volume) (*api.Volume, error)
	DeleteVolume(ctx context.Context, caller *api.Caller, name string) error
	// Record writes an audit entry for an action the API served or refused.
	Record(ctx context.Context, caller *api.Caller, action, target string, err error)
}

// Credentials are what a request proves about who sent it.
type Credentials struct {
	// Peer is the kernel's word on the connection's process: trusted on the
	// Unix socket, and on loopback TCP in dev mode only.
	Peer identity.Peer
	// Bearer is the token of "Authorization: Bearer", if any.
	Bearer string
	// Remote is the client's address (for the audit log).
	Remote string
	// Forwarded is the identity another agent of the cluster vouches for
	// (the ForwardedHeader), made for Method and Path.
	Forwarded    string
	Method, Path string
}

// ForwardedHeader carries, on a request an agent forwards to the leader,
// the caller's identity as that agent saw it, signed with the key the
// agents share.
const ForwardedHeader = "X-God-Forwarded-For"

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
	// Reads.
	mux.HandleFunc("GET /v1/jobs", s.wrap(s.list))
	mux.HandleFunc("GET /v1/job/{id}", s.wrap(s.get))
	mux.HandleFunc("GET /v1/job/{id}/why", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return b.Why(r.Context(), caller, id)
	}))
	mux.HandleFunc("GET /v1/queue", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Queue(r.Context(), caller)
	}))
	mux.HandleFunc("GET /v1/usage", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Usage(r.Context(), caller)
	}))
	mux.HandleFunc("GET /v1/usage/project/{name}", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.ProjectUsage(r.Context(), caller, r.PathValue("name"))
	}))
	mux.HandleFunc("GET /v1/usage/group/{group}", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.GroupUsage(r.Context(), caller, r.PathValue("group"))
	}))
	mux.HandleFunc("GET /v1/job/{id}/logs", s.logs)
	mux.HandleFunc("GET /v1/job/{id}/exec", s.exec)
	mux.HandleFunc("GET /v1/agent/self", s.wrap(s.self))
	// The health check of load balancers and Consul: no login.
	mux.HandleFunc("GET /v1/agent/health", func(w http.ResponseWriter, r *http.Request) {
		h, ok := b.Health(r.Context())
		if !ok {
			WriteError(w, http.StatusServiceUnavailable, &api.ErrorResponse{Error: h.Status})
			return
		}
		s.reply(w, r, h)
	})
	mux.HandleFunc("GET /v1/operator/members", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Members(r.Context(), caller)
	}))
	// Changes, each recorded in the audit log with its outcome.
	mux.HandleFunc("POST /v1/jobs", s.audited("job.submit", s.submit))
	mux.HandleFunc("POST /v1/jobs/batch", s.audited("job.submit", s.submitBatch))
	mux.HandleFunc("DELETE /v1/job/{id}", s.audited("job.stop", s.stop))
	mux.HandleFunc("PATCH /v1/job/{id}", s.audited("job.update", s.update))
	mux.HandleFunc("POST /v1/job/{id}/archive", s.audited("job.archive", s.archive))
	mux.HandleFunc("POST /v1/jobs/archive", s.audited("job.archive", s.archiveOlder))
	for verb, act := range map[string]func(context.Context, *api.Caller, int64) (*api.Job, error){
		"hold": b.Hold, "release": b.Release, "suspend": b.Suspend, "resume": b.Resume, "reschedule": b.Reschedule,
	} {
		mux.HandleFunc("POST /v1/job/{id}/"+verb, s.audited("job."+verb, s.action(act)))
	}
	s.accountRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, &api.ErrorResponse{Error: "no such endpoint: " + r.Method + " " + r.URL.Path})
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

type handler func(w http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error)

// wrap identifies the caller, runs h and writes its result or error as JSON.
func (s *server) wrap(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller, err := s.caller(r)
		if err == nil {
			var out any
			if out, err = h(w, r, caller); err == nil {
				s.reply(w, r, out)
				return
			}
		}
		s.fail(w, r, err)
	}
}

// audited is wrap for changes: the outcome, refusals included, goes to the
// audit log under action.
func (s *server) audited(action string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller, err := s.caller(r)
		var out any
		if err == nil {
			out, err = h(w, r, caller)
		} else {
			caller = &api.Caller{Address: r.RemoteAddr}
		}
		s.b.Record(r.Context(), caller, action, target(r, out), err)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.reply(w, r, out)
	}
}

// target names what a request acted on, for the audit log.
func target(r *http.Request, out any) string {
	switch {
	case r.PathValue("id") != "":
		return "job " + r.PathValue("id")
	case r.PathValue("login") != "" && r.PathValue("name") != "":
		return "project " + r.PathValue("name") + " member " + r.PathValue("login")
	case r.PathValue("login") != "":
		return "user " + r.PathValue("login")
	case r.PathValue("name") != "":
		return "project " + r.PathValue("name")
	case r.PathValue("vname") != "":
		return "volume " + r.PathValue("vname")
	}
	switch o := out.(type) {
	case *api.SubmitResponse:
		if o != nil {
			return "job " + strconv.FormatInt(o.ID, 10)
		}
	case *api.BatchSubmitResponse:
		if o != nil && len(o.Jobs) > 0 {
			return batchTarget(o.Jobs)
		}
	case *api.Project:
		if o != nil {
			return "project " + o.Name
		}
	case *api.Volume:
		if o != nil {
			return "volume " + o.Name
		}
	}
	return ""
}

func (s *server) reply(w http.ResponseWriter, r *http.Request, out any) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPost && (r.URL.Path == "/v1/jobs" || r.URL.Path == "/v1/jobs/batch" || r.URL.Path == "/v1/projects" || r.URL.Path == "/v1/volumes") {
		w.WriteHeader(http.StatusCreated)
	}
	_ = json.NewEncoder(w).Encode(out)
}

func credentials(r *http.Request) *Credentials {
	c := &Credentials{Peer: identity.FromContext(r.Context()), Remote: r.RemoteAddr,
		Forwarded: r.Header.Get(ForwardedHeader), Method: r.Method, Path: r.URL.Path}
	if c.Peer.Unix {
		c.Remote = "unix"
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			c.Bearer = strings.TrimSpace(tok)
		} else {
			c.Bearer = "malformed" // refused by the token check, never ignored
		}
	}
	return c
}

func (s *server) caller(r *http.Request) (*api.Caller, error) {
	return s.b.Authenticate(r.Context(), credentials(r))
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	var ce CodedError
	if errors.As(err, &ce) {
		code = ce.StatusCode()
	} else if errors.Is(err, context.Canceled) {
		return // the client went away
	} else if errors.Is(err, store.ErrFenced) {
		// This agent was deposed as leader: nothing was written, and the
		// next leader serves the retry.
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "2")
		err = errors.New("this agent is no longer the leader: retry in a few seconds")
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
	WriteError(w, code, resp)
}

// WriteError answers with code and resp as JSON.
func WriteError(w http.ResponseWriter, code int, resp *api.ErrorResponse) {
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

func (s *server) submit(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
	ctx := r.Context()
	if key := r.Header.Get(api.HeaderIdempotencyKey); key != "" {
		if !validSubmitKey(key) {
			return nil, badRequest("invalid "+api.HeaderIdempotencyKey+" header", api.FieldError{Field: api.HeaderIdempotencyKey,
				Message: "use 1 to 128 printable ASCII characters without spaces (the god client sends a random one)"})
		}
		ctx = WithSubmitKey(ctx, key)
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var spec api.JobSpec
	if err := dec.Decode(&spec); err != nil {
		return nil, badRequest("invalid job spec JSON: " + err.Error())
	}
	j, err := s.b.Submit(ctx, caller, &spec)
	if err != nil {
		return nil, err
	}
	return &api.SubmitResponse{ID: j.ID, Msg: "Job submitted"}, nil
}

// validSubmitKey: 1 to 128 printable ASCII characters, no space.
func validSubmitKey(k string) bool {
	if len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return false
		}
	}
	return true
}

type submitKeyCtx struct{}

// WithSubmitKey carries a submit's idempotency key to the Backend.
func WithSubmitKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, submitKeyCtx{}, key)
}

// SubmitKey is the idempotency key the client sent with a submit, or "".
func SubmitKey(ctx context.Context) string {
	k, _ := ctx.Value(submitKeyCtx{}).(string)
	return k
}

func (s *server) list(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
	q := r.URL.Query()
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, badRequest("invalid limit", api.FieldError{Field: "limit", Message: "a non-negative integer, got " + strconv.Quote(l)})
		}
		limit = n
	}
	jobs, err := s.b.Jobs(r.Context(), caller, &api.JobListOptions{States: q["state"], Limit: limit, Project: q.Get("project")})
	if jobs == nil && err == nil {
		jobs = []*api.Job{}
	}
	return jobs, err
}

func (s *server) get(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
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

func (s *server) stop(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.b.Stop(r.Context(), caller, id)
}

// action serves the POST /v1/job/{id}/<verb> endpoints.
func (s *server) action(act func(context.Context, *api.Caller, int64) (*api.Job, error)) handler {
	return func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return act(r.Context(), caller, id)
	}
}

func (s *server) update(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
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

func (s *server) archive(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.b.Archive(r.Context(), caller, id, r.URL.Query().Get("purge") == "true")
}

func (s *server) archiveOlder(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req api.ArchiveRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("invalid archive request JSON: " + err.Error())
	}
	return s.b.ArchiveOlder(r.Context(), caller, &req)
}

func (s *server) self(_ http.ResponseWriter, _ *http.Request, caller *api.Caller) (any, error) {
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
