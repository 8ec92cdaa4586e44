package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// How a caller was identified, as Caller.Via says.
const (
	ViaUnix  = "unix"  // the kernel, on the agent's Unix socket
	ViaToken = "token" // a signed token from a login
	ViaLocal = "local-tcp"
)

// Kinds of account.
const (
	AccountLocal = "local" // the system user database of the agent's host
	AccountLDAP  = "ldap"
	AccountGuest = "guest" // an OIDC login, runs as the site's guest user
)

// Caller is who makes a request: the identity their jobs run as and their
// rights.
type Caller struct {
	User
	// Login names the account; for local and LDAP users it equals Name.
	Login   string `json:"login"`
	Kind    string `json:"kind"`
	Admin   bool   `json:"admin,omitempty"`
	Via     string `json:"via"`
	Address string `json:"address,omitempty"`

	// TokenID and TokenExpires identify the token of the request, if any.
	TokenID      string    `json:"-"`
	TokenExpires time.Time `json:"-"`
}

// Account is a user as GoDocker keeps them: created at their first login
// (or first use of the Unix socket), changed by admins.
type Account struct {
	Login string `json:"login"`
	Kind  string `json:"kind"`
	// User is who their jobs run as (for a guest: the site's guest user,
	// with the guest's own home).
	User  User   `json:"user"`
	Email string `json:"email,omitempty"`
	// Groups are the group names the directory gave at the last login.
	Groups []string `json:"groups,omitempty"`
	// Priority from 0 to 100 weighs the user in fair share (default 50).
	Priority int `json:"priority"`
	// Active is false for a guest until an admin activates them, and for
	// anyone an admin disabled.
	Active bool `json:"active"`
	// Admin is set when the configuration makes the user an admin.
	Admin bool `json:"admin,omitempty"`
	// APIKeySet tells whether the user has an API key (never shown again).
	APIKeySet  bool       `json:"api_key_set"`
	APIKeyDate *time.Time `json:"api_key_date,omitempty"`
	Created    time.Time  `json:"created"`
	LastLogin  *time.Time `json:"last_login,omitempty"`
	Projects   []string   `json:"projects,omitempty"`
}

// AccountUpdate changes an account; nil fields stay.
type AccountUpdate struct {
	Priority *int  `json:"priority,omitempty"`
	Active   *bool `json:"active,omitempty"`
}

// Project groups users: jobs submitted to it share its priority and
// quotas, and with share_project_jobs members see each other's jobs.
type Project struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Priority    int      `json:"priority"`
	Members     []string `json:"members"`
	// Quota caps what the project's jobs, all members together, may use.
	Quota   *ProjectQuota `json:"quota,omitempty"`
	Created time.Time     `json:"created"`
	Version int64         `json:"version"`
}

// ProjectQuota caps a project's jobs; 0 means no cap. CPUHours counts the
// core-hours of the project's jobs that ended within the site's quota
// window.
type ProjectQuota struct {
	RunningCPU    float64 `json:"running_cpu,omitempty"`
	RunningMemory int64   `json:"running_memory,omitempty"`
	RunningJobs   int     `json:"running_jobs,omitempty"`
	RunningGPUs   int     `json:"running_gpus,omitempty"`
	CPUHours      float64 `json:"cpu_hours,omitempty"`
}

// ProjectUpdate changes a project; nil fields stay (a quota replaces the
// whole quota; an empty one removes it).
type ProjectUpdate struct {
	Description *string       `json:"description,omitempty"`
	Priority    *int          `json:"priority,omitempty"`
	Quota       *ProjectQuota `json:"quota,omitempty"`
}

// LoginRequest asks for a token with a password or an API key.
type LoginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password,omitempty"`
	APIKey   string `json:"api_key,omitempty"`
}

// LoginResponse carries the token to send as "Authorization: Bearer".
type LoginResponse struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Account *Account  `json:"account"`
}

// APIKeyResponse shows a new API key, once.
type APIKeyResponse struct {
	APIKey string `json:"api_key"`
}

// GuestLoginStart is the answer to starting a guest login: open URL in a
// browser, then poll with ID.
type GuestLoginStart struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// GuestLoginResult is the state of a guest login being polled: Done with a
// token, or with Error (an inactive guest is told so).
type GuestLoginResult struct {
	Done  bool           `json:"done"`
	Error string         `json:"error,omitempty"`
	Login *LoginResponse `json:"login,omitempty"`
}

// AuditEntry records one state-changing action or refusal.
type AuditEntry struct {
	ID    int64     `json:"id"`
	Time  time.Time `json:"time"`
	Actor string    `json:"actor"`
	// Action is a dotted verb: job.submit, job.stop, user.update, login...
	Action string `json:"action"`
	Target string `json:"target,omitempty"`
	// Outcome is "ok" or "refused".
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// From is how the actor reached the agent: "unix" or a remote address.
	From string `json:"from,omitempty"`
}

// Audit outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
)

// AuditQuery filters the audit log; zero fields do not filter.
type AuditQuery struct {
	Actor  string
	Action string
	Since  time.Time
	Limit  int
}

// Accounts are the account, login and project endpoints.
type Accounts struct{ c *Client }

// Accounts returns the account endpoints of the client.
func (c *Client) Accounts() *Accounts { return &Accounts{c: c} }

// Login exchanges a password or API key for a token.
func (a *Accounts) Login(ctx context.Context, r *LoginRequest) (*LoginResponse, error) {
	var out LoginResponse
	return &out, a.c.do(ctx, http.MethodPost, "/v1/login", nil, r, &out)
}

// Logout revokes the token the client sends.
func (a *Accounts) Logout(ctx context.Context) error {
	return a.c.do(ctx, http.MethodPost, "/v1/logout", nil, nil, nil)
}

// GuestLogin starts a guest (OIDC) login.
func (a *Accounts) GuestLogin(ctx context.Context) (*GuestLoginStart, error) {
	var out GuestLoginStart
	return &out, a.c.do(ctx, http.MethodPost, "/v1/login/oidc", nil, nil, &out)
}

// GuestLoginPoll reads the state of a guest login.
func (a *Accounts) GuestLoginPoll(ctx context.Context, id string) (*GuestLoginResult, error) {
	var out GuestLoginResult
	return &out, a.c.do(ctx, http.MethodGet, "/v1/login/oidc/"+url.PathEscape(id), nil, nil, &out)
}

// Whoami returns the caller's account.
func (a *Accounts) Whoami(ctx context.Context) (*Account, error) {
	var out Account
	return &out, a.c.do(ctx, http.MethodGet, "/v1/user/self", nil, nil, &out)
}

// RotateAPIKey makes a new API key for the caller (or, for an admin, for
// login), replacing the old one.
func (a *Accounts) RotateAPIKey(ctx context.Context, login string) (*APIKeyResponse, error) {
	var out APIKeyResponse
	if login == "" {
		login = "self"
	}
	return &out, a.c.do(ctx, http.MethodPost, "/v1/user/"+url.PathEscape(login)+"/apikey", nil, nil, &out)
}

// Users lists accounts (admins only).
func (a *Accounts) Users(ctx context.Context) ([]*Account, error) {
	var out []*Account
	return out, a.c.do(ctx, http.MethodGet, "/v1/users", nil, nil, &out)
}

// User returns one account (yours, or any for an admin).
func (a *Accounts) User(ctx context.Context, login string) (*Account, error) {
	var out Account
	return &out, a.c.do(ctx, http.MethodGet, "/v1/user/"+url.PathEscape(login), nil, nil, &out)
}

// UpdateUser changes an account (admins only).
func (a *Accounts) UpdateUser(ctx context.Context, login string, u *AccountUpdate) (*Account, error) {
	var out Account
	return &out, a.c.do(ctx, http.MethodPatch, "/v1/user/"+url.PathEscape(login), nil, u, &out)
}

// DeleteUser removes an account (admins only); their jobs stay.
func (a *Accounts) DeleteUser(ctx context.Context, login string) error {
	return a.c.do(ctx, http.MethodDelete, "/v1/user/"+url.PathEscape(login), nil, nil, nil)
}

// Projects lists the projects you are a member of (all for an admin).
func (a *Accounts) Projects(ctx context.Context) ([]*Project, error) {
	var out []*Project
	return out, a.c.do(ctx, http.MethodGet, "/v1/projects", nil, nil, &out)
}

// Project returns one project.
func (a *Accounts) Project(ctx context.Context, name string) (*Project, error) {
	var out Project
	return &out, a.c.do(ctx, http.MethodGet, "/v1/project/"+url.PathEscape(name), nil, nil, &out)
}

// CreateProject creates a project (admins only).
func (a *Accounts) CreateProject(ctx context.Context, p *Project) (*Project, error) {
	var out Project
	return &out, a.c.do(ctx, http.MethodPost, "/v1/projects", nil, p, &out)
}

// UpdateProject changes a project (admins only).
func (a *Accounts) UpdateProject(ctx context.Context, name string, u *ProjectUpdate) (*Project, error) {
	var out Project
	return &out, a.c.do(ctx, http.MethodPatch, "/v1/project/"+url.PathEscape(name), nil, u, &out)
}

// DeleteProject removes a project (admins only).
func (a *Accounts) DeleteProject(ctx context.Context, name string) error {
	return a.c.do(ctx, http.MethodDelete, "/v1/project/"+url.PathEscape(name), nil, nil, nil)
}

// AddMember adds a user to a project (admins only).
func (a *Accounts) AddMember(ctx context.Context, project, login string) (*Project, error) {
	var out Project
	return &out, a.c.do(ctx, http.MethodPut, "/v1/project/"+url.PathEscape(project)+"/member/"+url.PathEscape(login), nil, nil, &out)
}

// RemoveMember removes a user from a project (admins only).
func (a *Accounts) RemoveMember(ctx context.Context, project, login string) (*Project, error) {
	var out Project
	return &out, a.c.do(ctx, http.MethodDelete, "/v1/project/"+url.PathEscape(project)+"/member/"+url.PathEscape(login), nil, nil, &out)
}

// Audit lists audit entries, newest first: all for an admin, your own
// otherwise.
func (a *Accounts) Audit(ctx context.Context, q *AuditQuery) ([]*AuditEntry, error) {
	v := url.Values{}
	if q != nil {
		if q.Actor != "" {
			v.Set("actor", q.Actor)
		}
		if q.Action != "" {
			v.Set("action", q.Action)
		}
		if !q.Since.IsZero() {
			v.Set("since", q.Since.UTC().Format(time.RFC3339))
		}
		if q.Limit > 0 {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
	}
	var out []*AuditEntry
	return out, a.c.do(ctx, http.MethodGet, "/v1/audit", v, nil, &out)
}

// Volume is a host directory users may mount by name, as the site
// configured it.
type Volume struct {
	Name     string   `json:"name"`
	Path     string   `json:"path"`
	Mount    string   `json:"mount"`
	ReadOnly bool     `json:"read_only,omitempty"`
	Users    []string `json:"users,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Projects []string `json:"projects,omitempty"`
	// Usable tells whether the caller may mount it (in the default project;
	// a volume for projects needs a job of one of them).
	Usable bool `json:"usable"`
	// Defined is "config" for the agent's volume blocks (omitted) or "api"
	// for volumes admins defined with god volume create.
	Defined string `json:"defined,omitempty"`
}

// CreateVolume defines a volume (admins only).
func (a *Accounts) CreateVolume(ctx context.Context, v *Volume) (*Volume, error) {
	var out Volume
	return &out, a.c.do(ctx, http.MethodPost, "/v1/volumes", nil, v, &out)
}

// DeleteVolume removes a volume admins defined (admins only).
func (a *Accounts) DeleteVolume(ctx context.Context, name string) error {
	return a.c.do(ctx, http.MethodDelete, "/v1/volume/"+url.PathEscape(name), nil, nil, nil)
}

// Volumes lists the site's volumes.
func (a *Accounts) Volumes(ctx context.Context) ([]*Volume, error) {
	var out []*Volume
	return out, a.c.do(ctx, http.MethodGet, "/v1/volumes", nil, nil, &out)
}
