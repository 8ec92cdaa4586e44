package command

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

// fakeAgent speaks the account routes of the HTTP API, enough to test how
// the CLI handles the wire: who logs in with what, which token each
// request carries, revocation. The real agent is tested end to end in
// package agent.
type fakeAgent struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	tokens  map[string]string // valid token -> login
	auth    []string          // Authorization header of each authenticated request
	queries []string          // raw query of each GET /v1/jobs and /v1/audit
	calls   []string          // account and project changes, as "METHOD PATH BODY"
	polls   int               // guest login polls before it is done
	guest   api.GuestLoginResult
}

func newFakeAgent(t *testing.T) *fakeAgent {
	f := &fakeAgent{t: t, tokens: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/login", func(w http.ResponseWriter, r *http.Request) {
		var req api.LoginRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			f.fail(w, http.StatusBadRequest, "invalid JSON")
			return
		}
		ok := (req.Login == "alice" && req.Password == "s3cret pass" && req.APIKey == "") ||
			(req.Login == "alice" && req.APIKey == "key-alice" && req.Password == "")
		if !ok {
			f.fail(w, http.StatusUnauthorized, "invalid login or password")
			return
		}
		f.reply(w, f.issue("alice", api.AccountLocal, true))
	})
	mux.HandleFunc("POST /v1/login/oidc", func(w http.ResponseWriter, r *http.Request) {
		f.reply(w, &api.GuestLoginStart{ID: "g1", URL: "https://idp.example/auth?state=g1"})
	})
	mux.HandleFunc("GET /v1/login/oidc/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "g1" {
			f.fail(w, http.StatusNotFound, "no such login")
			return
		}
		f.mu.Lock()
		f.polls--
		done := f.polls <= 0
		res := f.guest
		f.mu.Unlock()
		if !done {
			f.reply(w, &api.GuestLoginResult{})
			return
		}
		f.reply(w, &res)
	})
	mux.HandleFunc("POST /v1/logout", f.authed(func(w http.ResponseWriter, r *http.Request, login string) {
		f.mu.Lock()
		delete(f.tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		f.mu.Unlock()
		f.reply(w, struct{}{})
	}))
	mux.HandleFunc("GET /v1/user/self", f.authed(func(w http.ResponseWriter, r *http.Request, login string) {
		f.reply(w, account(login, api.AccountLocal, true))
	}))
	mux.HandleFunc("GET /v1/agent/self", f.authed(func(w http.ResponseWriter, r *http.Request, login string) {
		f.reply(w, &api.AgentSelf{Caller: api.Caller{Login: login, Via: api.ViaToken}})
	}))
	mux.HandleFunc("GET /v1/jobs", f.authed(func(w http.ResponseWriter, r *http.Request, login string) {
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.RawQuery)
		f.mu.Unlock()
		f.reply(w, []*api.Job{})
	}))
	mux.HandleFunc("GET /v1/audit", f.authed(func(w http.ResponseWriter, r *http.Request, login string) {
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.RawQuery)
		f.mu.Unlock()
		f.reply(w, []*api.AuditEntry{{Time: time.Now(), Actor: login, Action: "job.stop", Target: "job 3", Outcome: api.OutcomeRefused, Reason: "job 3 belongs\nto bob | really", From: "10.0.0.2"}})
	}))
	// Account and project changes: recorded as "METHOD PATH BODY", answered
	// with what the route returns.
	mux.HandleFunc("/v1/", f.authed(func(w http.ResponseWriter, r *http.Request, login string) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body))))
		f.mu.Unlock()
		switch {
		case r.URL.Path == "/v1/users":
			f.reply(w, []*api.Account{account("alice", api.AccountLocal, true), account("guest:ab12", api.AccountGuest, false)})
		case strings.HasSuffix(r.URL.Path, "/apikey"):
			f.reply(w, &api.APIKeyResponse{APIKey: "key-new"})
		case strings.HasPrefix(r.URL.Path, "/v1/user/"):
			f.reply(w, account(strings.TrimPrefix(r.URL.Path, "/v1/user/"), api.AccountGuest, true))
		case r.URL.Path == "/v1/projects" && r.Method == http.MethodGet:
			f.reply(w, []*api.Project{{Name: "default", Priority: 50, Members: []string{}}, {Name: "physics", Priority: 70, Members: []string{"alice", "bob"}, Description: "Detector | simulations"}})
		case r.Method == http.MethodDelete && !strings.Contains(r.URL.Path, "/member/"):
			f.reply(w, struct{}{})
		default:
			f.reply(w, &api.Project{Name: "physics", Priority: 70, Members: []string{"alice"}})
		}
	}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func account(login, kind string, active bool) *api.Account {
	return &api.Account{Login: login, Kind: kind, User: api.User{Name: login, UID: 23001, GID: 23001, Home: "/home/" + login}, Priority: 50, Active: active, Projects: []string{"physics"}}
}

func (f *fakeAgent) issue(login, kind string, active bool) *api.LoginResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := "tok-" + login + "-" + time.Now().Format("150405.000000000")
	f.tokens[tok] = login
	return &api.LoginResponse{Token: tok, Expires: time.Now().Add(24 * time.Hour), Account: account(login, kind, active)}
}

func (f *fakeAgent) authed(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hdr := r.Header.Get("Authorization")
		f.mu.Lock()
		f.auth = append(f.auth, hdr)
		login, ok := f.tokens[strings.TrimPrefix(hdr, "Bearer ")]
		f.mu.Unlock()
		switch {
		case hdr == "":
			f.fail(w, http.StatusUnauthorized, "authentication required: log in with `god login` (or set GOD_TOKEN), or use the agent's Unix socket on its host")
		case !ok:
			f.fail(w, http.StatusUnauthorized, "token revoked: log in again with `god login`")
		default:
			h(w, r, login)
		}
	}
}

func (f *fakeAgent) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	must.NoError(f.t, json.NewEncoder(w).Encode(v))
}

func (f *fakeAgent) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(&api.ErrorResponse{Error: msg})
}

// lastAuth is the Authorization header of the last authenticated request.
func (f *fakeAgent) lastAuth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	must.SliceNotEmpty(f.t, f.auth)
	return f.auth[len(f.auth)-1]
}

// runIn runs the CLI with stdin.
func runIn(t *testing.T, stdin string, args ...string) (out, errOut string, code int) {
	t.Helper()
	ui := cli.NewMockUi()
	ui.InputReader = strings.NewReader(stdin)
	code = RunWith(args, ui)
	return ui.OutputWriter.String(), ui.ErrorWriter.String(), code
}

// Log in with a password, use the token, log out: the token is saved for
// the agent's address only, sent on later commands, revoked and deleted.
func TestLoginWhoamiLogout(t *testing.T) {
	path := useConfigDir(t)
	f := newFakeAgent(t)
	addr := f.srv.URL

	_, errOut, code := runIn(t, "wrong\n", "login", "-address", addr, "-user", "alice")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "Error logging in as alice at "+addr+": invalid login or password")
	_, err := os.Stat(path)
	must.True(t, os.IsNotExist(err), must.Sprint("a failed login saves nothing"))

	// The password is the whole line, spaces included.
	out, errOut, code := runIn(t, "s3cret pass\n", "login", "-address", addr, "-user", "alice")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "Logged in to "+addr+" as alice (local account, runs as uid 23001)")
	must.StrContains(t, out, "saved in "+path)
	saved, err := loadToken(path)
	must.NoError(t, err)
	must.Eq(t, addr, saved.Address)
	must.Eq(t, "alice", saved.Login)
	must.StrHasPrefix(t, "tok-alice-", saved.Token)
	must.True(t, saved.Expires.After(time.Now().Add(23*time.Hour)))

	out, errOut, code = run(t, "user", "whoami", "-address", addr)
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "Bearer "+saved.Token, f.lastAuth())
	must.StrContains(t, out, "Login         = alice")
	must.StrContains(t, out, "User          = alice (uid 23001, gid 23001)")
	must.StrContains(t, out, "Projects      = physics")
	must.StrContains(t, out, "Identified By = a token saved by god login in "+path)

	out, errOut, code = run(t, "logout", "-address", addr)
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "after revoking the login as alice at "+addr)
	must.Eq(t, "Bearer "+saved.Token, f.lastAuth())
	_, err = os.Stat(path)
	must.True(t, os.IsNotExist(err))
	f.mu.Lock()
	must.MapLen(t, 0, f.tokens)
	f.mu.Unlock()

	// Logged out, nothing is sent: the agent asks for a login.
	_, errOut, code = run(t, "user", "whoami", "-address", addr)
	must.Eq(t, 1, code)
	must.Eq(t, "", f.lastAuth())
	must.StrContains(t, errOut, "authentication required")

	out, _, code = run(t, "logout")
	must.Eq(t, 0, code)
	must.StrContains(t, out, "Not logged in")
}

// An API key is read from standard input (never a flag), trimmed.
func TestLogin_APIKeyStdin(t *testing.T) {
	path := useConfigDir(t)
	f := newFakeAgent(t)
	_, errOut, code := runIn(t, "  key-alice  \n", "login", "-address", f.srv.URL, "-user", "alice", "-apikey-stdin")
	must.Eq(t, 0, code, must.Sprint(errOut))
	_, err := loadToken(path)
	must.NoError(t, err)

	_, errOut, code = runIn(t, "", "login", "-address", f.srv.URL, "-user", "alice", "-apikey-stdin")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "no API key read from standard input")

	// -user defaults to $USER.
	t.Setenv("USER", "alice")
	_, errOut, code = runIn(t, "key-alice", "login", "-address", f.srv.URL, "-apikey-stdin")
	must.Eq(t, 0, code, must.Sprint(errOut))
}

// A guest login prints the URL, polls until done and saves the token; an
// inactive guest is told an admin must activate them; a failed one saves
// nothing.
func TestLogin_Guest(t *testing.T) {
	old := guestPollInterval
	guestPollInterval = 5 * time.Millisecond
	t.Cleanup(func() { guestPollInterval = old })
	path := useConfigDir(t)
	f := newFakeAgent(t)

	f.guest = api.GuestLoginResult{Done: true, Login: f.issue("guest:ab12", api.AccountGuest, false)}
	f.polls = 3
	out, errOut, code := run(t, "login", "-address", f.srv.URL, "-guest")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "https://idp.example/auth?state=g1")
	must.StrContains(t, out, "as guest:ab12 (guest account")
	must.StrContains(t, errOut, "not active yet: an admin must activate it (god user update -active=true guest:ab12)")
	must.Eq(t, 0, f.polls)
	saved, err := loadToken(path)
	must.NoError(t, err)
	must.Eq(t, "guest:ab12", saved.Login)

	must.NoError(t, os.Remove(path))
	f.guest = api.GuestLoginResult{Done: true, Error: "the identity provider refused: access_denied"}
	f.polls = 1
	_, errOut, code = run(t, "login", "-address", f.srv.URL, "-guest")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "Guest login failed: the identity provider refused: access_denied")
	_, err = os.Stat(path)
	must.True(t, os.IsNotExist(err))
}

// GOD_TOKEN wins over the saved token; the saved token goes only to the
// address it was issued by (-address, else GOD_ADDR), and not once expired.
func TestClient_TokenPrecedence(t *testing.T) {
	path := useConfigDir(t)
	f := newFakeAgent(t)
	other := newFakeAgent(t)
	tok := f.issue("alice", api.AccountLocal, true)
	envTok := f.issue("bob", api.AccountLocal, true)
	saved := &savedToken{Address: f.srv.URL + "/", Login: "alice", Token: tok.Token, Expires: tok.Expires}
	must.NoError(t, saveToken(path, saved))

	// The saved token, for its own address (written with a slash).
	_, errOut, code := run(t, "job", "status", "-address", f.srv.URL)
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "Bearer "+tok.Token, f.lastAuth())

	// GOD_ADDR names the agent when -address is not given...
	t.Setenv("GOD_ADDR", f.srv.URL)
	_, errOut, code = run(t, "job", "status")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "Bearer "+tok.Token, f.lastAuth())

	// ... and -address overrides it: the token is not sent elsewhere.
	_, _, code = run(t, "job", "status", "-address", other.srv.URL)
	must.Eq(t, 1, code)
	must.Eq(t, "", other.lastAuth())

	// GOD_TOKEN wins over the saved token.
	t.Setenv("GOD_TOKEN", envTok.Token)
	out, errOut, code := run(t, "user", "whoami")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "Bearer "+envTok.Token, f.lastAuth())
	must.StrContains(t, out, "Identified By = a token, from GOD_TOKEN")
	// Even with an unsafe token file, which is then not read at all.
	must.NoError(t, os.Chmod(path, 0o644))
	_, errOut, code = run(t, "job", "status")
	must.Eq(t, 0, code, must.Sprint(errOut))
	t.Setenv("GOD_TOKEN", "")

	// Without GOD_TOKEN, an unsafe token file for this address is refused...
	_, errOut, code = run(t, "job", "status")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "refusing to use the token file "+path)
	// ... but does not stand in the way of another agent.
	_, errOut, code = run(t, "job", "status", "-address", other.srv.URL)
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "authentication required")
	must.StrNotContains(t, errOut, "refusing")
	must.NoError(t, os.Chmod(path, 0o600))

	// An expired token is not sent, and the 401 is explained.
	saved.Expires = time.Now().Add(-time.Minute)
	must.NoError(t, saveToken(path, saved))
	_, errOut, code = run(t, "job", "status", "-project", "physics")
	must.Eq(t, 1, code)
	must.Eq(t, "", f.lastAuth())
	must.StrContains(t, errOut, "authentication required")
	must.StrContains(t, errOut, "Your saved login as alice at "+f.srv.URL+"/ expired on")
	must.StrContains(t, errOut, "run `god login` to log in again")
}

// -project is sent with the job list; the audit filters become its query.
func TestFiltersOnTheWire(t *testing.T) {
	useConfigDir(t)
	f := newFakeAgent(t)
	t.Setenv("GOD_TOKEN", f.issue("alice", api.AccountLocal, true).Token)

	_, errOut, code := run(t, "job", "status", "-address", f.srv.URL, "-project", "physics", "-state", "pending")
	must.Eq(t, 0, code, must.Sprint(errOut))
	out, errOut, code := run(t, "operator", "audit", "-address", f.srv.URL, "-actor", "bob", "-action", "job.stop", "-since", "2026-11-01T09:00:00Z", "-limit", "5")
	must.Eq(t, 0, code, must.Sprint(errOut))
	f.mu.Lock()
	must.Eq(t, []string{"project=physics&state=pending", "action=job.stop&actor=bob&limit=5&since=2026-11-01T09%3A00%3A00Z"}, f.queries)
	f.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	must.SliceLen(t, 2, lines)
	must.StrContains(t, lines[0], "Time")
	must.StrContains(t, lines[1], "job.stop")
	must.StrContains(t, lines[1], "job 3 belongs to bob / really")
	must.StrContains(t, lines[1], "10.0.0.2")
}

// Logging out of an agent that cannot be reached still deletes the token,
// and says the token stays valid.
func TestLogout_AgentUnreachable(t *testing.T) {
	path := useConfigDir(t)
	f := newFakeAgent(t)
	addr := f.srv.URL
	f.srv.Close()
	must.NoError(t, saveToken(path, sampleToken(addr)))
	_, errOut, code := run(t, "logout")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "cannot revoke the token at "+addr)
	must.StrContains(t, errOut, "stays valid until")
	must.StrContains(t, errOut, "Deleted the saved token "+path+" without revoking it")
	_, err := os.Stat(path)
	must.True(t, os.IsNotExist(err))

	// -address must name the agent of the saved token.
	must.NoError(t, saveToken(path, sampleToken(addr)))
	_, errOut, code = run(t, "logout", "-address", "http://elsewhere:1")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "the saved token is for "+addr+", not http://elsewhere:1")
	_, err = os.Stat(path)
	must.NoError(t, err)
}

// Ctrl-C stops a guest login that is waiting for the browser.
func TestLogin_GuestInterrupted(t *testing.T) {
	old := guestPollInterval
	guestPollInterval = 5 * time.Millisecond
	t.Cleanup(func() { guestPollInterval = old })
	path := useConfigDir(t)
	f := newFakeAgent(t)
	f.polls = 1 << 30 // never done

	go func() {
		// Interrupt once polling has begun: the command handles SIGINT by
		// then (an earlier one would end the test binary).
		for {
			f.mu.Lock()
			polled := f.polls < 1<<30-1
			f.mu.Unlock()
			if polled {
				break
			}
			time.Sleep(time.Millisecond)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
	}()
	_, errOut, code := run(t, "login", "-address", f.srv.URL, "-guest")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "Guest login stopped: nothing was saved")
	_, err := os.Stat(path)
	must.True(t, os.IsNotExist(err))
}

// A token file left open to others is still revoked by logout: the token
// may have leaked. One that is not the caller's is only deleted.
func TestLogout_ExposedTokenRevoked(t *testing.T) {
	path := useConfigDir(t)
	f := newFakeAgent(t)
	tok := f.issue("alice", api.AccountLocal, true)
	must.NoError(t, saveToken(path, &savedToken{Address: f.srv.URL, Login: "alice", Token: tok.Token, Expires: tok.Expires}))
	must.NoError(t, os.Chmod(path, 0o644))

	out, errOut, code := run(t, "logout")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, errOut, "was open to others (mode 0644): revoking the token")
	must.StrContains(t, out, "after revoking the login as alice")
	must.Eq(t, "Bearer "+tok.Token, f.lastAuth())
	f.mu.Lock()
	must.MapLen(t, 0, f.tokens)
	f.mu.Unlock()

	if os.Getuid() != 0 {
		t.Log("skipping the ownership case: giving a file to another user needs root")
		return
	}
	tok = f.issue("alice", api.AccountLocal, true)
	must.NoError(t, saveToken(path, &savedToken{Address: f.srv.URL, Login: "alice", Token: tok.Token, Expires: tok.Expires}))
	must.NoError(t, os.Chown(path, 65534, 65534))
	n := len(f.auth)
	_, errOut, code = run(t, "logout")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "belongs to uid 65534")
	must.StrContains(t, errOut, "without revoking it")
	must.Eq(t, n, len(f.auth)) // nothing sent
	_, err := os.Stat(path)
	must.True(t, os.IsNotExist(err))
}

// The user and project commands send what their flags say, and nothing
// for flags not given.
func TestUserAndProjectCommandsOnTheWire(t *testing.T) {
	useConfigDir(t)
	f := newFakeAgent(t)
	t.Setenv("GOD_ADDR", f.srv.URL)
	t.Setenv("GOD_TOKEN", f.issue("alice", api.AccountLocal, true).Token)

	cases := []struct {
		args []string
		call string // "" when the command only reads
		out  string
	}{
		{[]string{"user", "list"}, "GET /v1/users", "guest:ab12  guest  23001  false"},
		{[]string{"user", "show", "guest:ab12"}, "GET /v1/user/guest:ab12", "Login      = guest:ab12"},
		{[]string{"user", "update", "-active", "guest:ab12"}, `PATCH /v1/user/guest:ab12 {"active":true}`, "Account guest:ab12 updated: active true, priority 50"},
		{[]string{"user", "update", "-active=false", "-priority", "0", "bob"}, `PATCH /v1/user/bob {"priority":0,"active":false}`, "updated"},
		{[]string{"user", "apikey"}, "POST /v1/user/self/apikey", "key-new"},
		{[]string{"user", "apikey", "bob"}, "POST /v1/user/bob/apikey", "key-new"},
		{[]string{"project", "list"}, "GET /v1/projects", "physics  70        alice, bob  Detector / simulations"},
		{[]string{"project", "show", "physics"}, "GET /v1/project/physics", "Members     = alice"},
		{[]string{"project", "create", "-members", "alice, bob", "-priority", "70", "physics"}, `POST /v1/projects {"name":"physics","priority":70,"members":["alice","bob"],"created":"0001-01-01T00:00:00Z","version":0}`, "Project physics created"},
		{[]string{"project", "update", "-description", "", "physics"}, `PATCH /v1/project/physics {"description":""}`, "Project physics updated"},
		{[]string{"project", "update", "-priority", "0", "physics"}, `PATCH /v1/project/physics {"priority":0}`, "Project physics updated"},
		{[]string{"project", "delete", "physics"}, "DELETE /v1/project/physics", "Project physics deleted"},
		{[]string{"project", "add-member", "physics", "bob"}, "PUT /v1/project/physics/member/bob", "Project physics members: alice"},
		{[]string{"project", "remove-member", "physics", "bob"}, "DELETE /v1/project/physics/member/bob", "Project physics members: alice"},
	}
	for _, tc := range cases {
		out, errOut, code := run(t, tc.args...)
		must.Eq(t, 0, code, must.Sprintf("%v: %s", tc.args, errOut))
		must.StrContains(t, out, tc.out, must.Sprint(tc.args))
		f.mu.Lock()
		last := f.calls[len(f.calls)-1]
		f.mu.Unlock()
		must.Eq(t, tc.call, last, must.Sprint(tc.args))
	}

	// The new key alone is on standard output, the warning on standard error.
	out, errOut, _ := run(t, "user", "apikey", "bob")
	must.Eq(t, "key-new\n", out)
	must.StrContains(t, errOut, "This is bob's new API key, shown only this once")

	// -json prints the API's answer.
	out, _, code := run(t, "project", "show", "-json", "physics")
	must.Eq(t, 0, code)
	var p api.Project
	must.NoError(t, json.Unmarshal([]byte(out), &p))
	must.Eq(t, "physics", p.Name)
}

// A job's project shows in its details, when it has one.
func TestFormatJob_Project(t *testing.T) {
	j := &api.Job{ID: 7, Spec: api.JobSpec{Name: "fit", Project: "physics"}}
	must.StrContains(t, formatJob(j), "Project       = physics")
	j.Spec.Project = ""
	must.StrNotContains(t, formatJob(j), "Project")
}

func TestParseProjectQuota(t *testing.T) {
	q, err := parseProjectQuota("running_jobs=4, cpu_hours=1000,running_memory=2GiB,running_cpu=1.5")
	must.NoError(t, err)
	must.Eq(t, api.ProjectQuota{RunningJobs: 4, CPUHours: 1000, RunningMemory: 2 << 30, RunningCPU: 1.5}, *q)
	q, err = parseProjectQuota("running_gpus=2")
	must.NoError(t, err)
	must.Eq(t, api.ProjectQuota{RunningGPUs: 2}, *q)
	q, err = parseProjectQuota("none")
	must.NoError(t, err)
	must.Eq(t, api.ProjectQuota{}, *q)
	for _, bad := range []string{"jobs=4", "running_jobs=-1", "running_jobs", "cpu_hours=x", "running_memory=lots", "running_gpus=-1", "running_gpus=1.5"} {
		_, err := parseProjectQuota(bad)
		must.Error(t, err, must.Sprint(bad))
	}
}
