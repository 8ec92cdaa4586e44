package http

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/godocker/god/api"
)

// accountRoutes registers logins, accounts, projects and the audit log.
func (s *server) accountRoutes(mux *http.ServeMux) {
	b := s.b
	// Logins are the only calls without a caller.
	mux.HandleFunc("POST /v1/login", s.login)
	mux.HandleFunc("POST /v1/login/oidc", func(w http.ResponseWriter, r *http.Request) {
		out, err := b.GuestLoginStart(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.reply(w, r, out)
	})
	mux.HandleFunc("GET /v1/login/oidc/{id}", func(w http.ResponseWriter, r *http.Request) {
		out, err := b.GuestLoginPoll(r.Context(), r.PathValue("id"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.reply(w, r, out)
	})
	// The identity provider sends the browser here: plain text, not JSON.
	mux.HandleFunc("GET /v1/login/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		msg, err := b.GuestLoginCallback(r.Context(), q.Get("state"), q.Get("code"), q.Get("error"))
		code := http.StatusOK
		if err != nil {
			msg, code = err.Error(), http.StatusInternalServerError
			if ce, ok := err.(CodedError); ok {
				code = ce.StatusCode()
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_, _ = w.Write([]byte("GoDocker: " + msg + "\n"))
	})
	mux.HandleFunc("POST /v1/logout", s.audited("logout", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return struct{}{}, b.Logout(r.Context(), caller)
	}))
	mux.HandleFunc("GET /v1/user/self", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Account(r.Context(), caller, "self")
	}))
	mux.HandleFunc("GET /v1/users", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Accounts(r.Context(), caller)
	}))
	mux.HandleFunc("GET /v1/user/{login}", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Account(r.Context(), caller, r.PathValue("login"))
	}))
	mux.HandleFunc("PATCH /v1/user/{login}", s.audited("user.update", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		var u api.AccountUpdate
		if err := decode(r, &u, "priority, active"); err != nil {
			return nil, err
		}
		return b.UpdateAccount(r.Context(), caller, r.PathValue("login"), &u)
	}))
	mux.HandleFunc("DELETE /v1/user/{login}", s.audited("user.delete", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return struct{}{}, b.DeleteAccount(r.Context(), caller, r.PathValue("login"))
	}))
	mux.HandleFunc("POST /v1/user/{login}/apikey", s.audited("user.apikey", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.RotateAPIKey(r.Context(), caller, r.PathValue("login"))
	}))
	mux.HandleFunc("GET /v1/projects", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Projects(r.Context(), caller)
	}))
	mux.HandleFunc("POST /v1/projects", s.audited("project.create", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		var p api.Project
		if err := decode(r, &p, "name, description, priority, members"); err != nil {
			return nil, err
		}
		return b.CreateProject(r.Context(), caller, &p)
	}))
	mux.HandleFunc("GET /v1/project/{name}", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Project(r.Context(), caller, r.PathValue("name"))
	}))
	mux.HandleFunc("PATCH /v1/project/{name}", s.audited("project.update", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		var u api.ProjectUpdate
		if err := decode(r, &u, "description, priority"); err != nil {
			return nil, err
		}
		return b.UpdateProject(r.Context(), caller, r.PathValue("name"), &u)
	}))
	mux.HandleFunc("DELETE /v1/project/{name}", s.audited("project.delete", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return struct{}{}, b.DeleteProject(r.Context(), caller, r.PathValue("name"))
	}))
	mux.HandleFunc("PUT /v1/project/{name}/member/{login}", s.audited("project.add-member", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.AddMember(r.Context(), caller, r.PathValue("name"), r.PathValue("login"))
	}))
	mux.HandleFunc("DELETE /v1/project/{name}/member/{login}", s.audited("project.remove-member", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.RemoveMember(r.Context(), caller, r.PathValue("name"), r.PathValue("login"))
	}))
	mux.HandleFunc("GET /v1/volumes", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return b.Volumes(r.Context(), caller)
	}))
	mux.HandleFunc("POST /v1/volumes", s.audited("volume.create", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		var v api.Volume
		if err := decode(r, &v, "name, path, mount, read_only, users, groups, projects"); err != nil {
			return nil, err
		}
		return b.CreateVolume(r.Context(), caller, &v)
	}))
	mux.HandleFunc("DELETE /v1/volume/{vname}", s.audited("volume.delete", func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		return struct{}{}, b.DeleteVolume(r.Context(), caller, r.PathValue("vname"))
	}))
	mux.HandleFunc("GET /v1/audit", s.wrap(func(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
		q := r.URL.Query()
		aq := &api.AuditQuery{Actor: q.Get("actor"), Action: q.Get("action")}
		if v := q.Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, badRequest("invalid since", api.FieldError{Field: "since", Message: "an RFC 3339 time such as 2026-01-02T15:04:05Z, got " + strconv.Quote(v)})
			}
			aq.Since = t
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, badRequest("invalid limit", api.FieldError{Field: "limit", Message: "a non-negative integer, got " + strconv.Quote(v)})
			}
			aq.Limit = n
		}
		return b.Audit(r.Context(), caller, aq)
	}))
}

// login answers without a caller: it is how a remote user becomes one.
func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var req api.LoginRequest
	if err := decode(r, &req, "login, password, api_key"); err != nil {
		s.fail(w, r, err)
		return
	}
	out, err := s.b.Login(r.Context(), credentials(r), &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, out)
}

// decode reads a JSON body strictly; fields lists the accepted ones for
// the error message.
func decode(r *http.Request, v any, fields string) error {
	if r.ContentLength == 0 {
		return badRequest("missing JSON body (fields: " + fields + ")")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON: " + err.Error() + " (fields: " + fields + ")")
	}
	return nil
}
