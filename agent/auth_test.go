package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	agenthttp "github.com/godocker/god/agent/http"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/agent/token"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/auth"
	"github.com/godocker/god/plugins/auth/ldap/ldaptest"
	"github.com/godocker/god/plugins/auth/pam"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/sqlite"
)

// site is an agent as a site runs it: no dev mode, the TCP API on loopback
// needing tokens, users from a real slapd, guests from a real OIDC provider.
type site struct {
	*testAgent
	ldap     *ldaptest.Server
	idp      *mockoidc.MockOIDC
	addr     string // http://127.0.0.1:port
	volumes  string // root of the test volumes
	homeRoot string // guests' homes
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startSite(t *testing.T) *site {
	t.Helper()
	needDocker(t)
	s := &site{ldap: ldaptest.Start(t)}
	m, err := mockoidc.NewServer(nil)
	must.NoError(t, err)
	_, err = m.Keypair.KeyID()
	must.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	must.NoError(t, m.Start(ln, nil))
	t.Cleanup(func() { _ = m.Shutdown() })
	s.idp = m

	dir := t.TempDir()
	s.volumes = filepath.Join(dir, "vol")
	s.homeRoot = filepath.Join(dir, "guests")
	for _, d := range []string{"shared", "private", "users"} {
		must.NoError(t, os.MkdirAll(filepath.Join(s.volumes, d), 0o755))
	}
	must.NoError(t, os.Mkdir(filepath.Join(s.volumes, "users", ldaptest.Alice.Login), 0o755))
	// Bob's directory is a link to a system directory: an escape attempt.
	must.NoError(t, os.Symlink("/etc", filepath.Join(s.volumes, "users", ldaptest.Bob.Login)))
	port := freePort(t)
	s.addr = fmt.Sprintf("http://127.0.0.1:%d", port)
	oc := m.Config()
	src := fmt.Sprintf(`
admin_groups = ["god-admins"]
token_ttl    = "1h"
http {
  enabled = true
  address = "127.0.0.1"
  port    = %d
}
auth "local" {}
auth "ldap" {
  url           = %q
  base_dn       = %q
  bind_dn       = %q
  bind_password = %q
}
auth "oidc" {
  issuer        = %q
  client_id     = %q
  client_secret = %q
}
guests {
  user      = "nobody"
  home_root = %q
}
images {
  allowed = [%q]
}
volume "shared" {
  path   = "%s/shared"
  groups = ["ldap-lab"]
}
volume "private" {
  path  = "%s/private"
  users = ["ldap-bob"]
}
volume "mine" {
  path  = "%s/users/$USER"
  mount = "/data"
}
`, port, s.ldap.URL, s.ldap.BaseDN, s.ldap.BindDN, s.ldap.BindPassword, oc.Issuer, oc.ClientID, oc.ClientSecret,
		s.homeRoot, testImage, s.volumes, s.volumes, s.volumes)
	cfg := testConfig(t)
	cfg, err = config.Parse("site.hcl", []byte(src), cfg)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.False(t, cfg.Dev)
	s.testAgent = runAgent(t, cfg)
	return s
}

// client talks to the site over TCP with tok (none when empty).
func (s *site) client(t *testing.T, tok string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: s.addr, Token: tok})
	must.NoError(t, err)
	return c
}

// login logs in through LDAP and returns the token.
func (s *site) login(t *testing.T, u ldaptest.User) string {
	t.Helper()
	r, err := s.client(t, "").Accounts().Login(context.Background(), &api.LoginRequest{Login: u.Login, Password: u.Password})
	must.NoError(t, err)
	must.Eq(t, u.Login, r.Account.Login)
	return r.Token
}

func statusOf(err error) int {
	var ae *api.APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

func requireStatus(t *testing.T, want int, err error, msg ...string) {
	t.Helper()
	must.Error(t, err, must.Sprint(msg))
	must.Eq(t, want, statusOf(err), must.Sprintf("%v (%v)", err, msg))
}

// guestLogin runs a guest's whole OIDC login as the CLI and a browser do:
// start, open the URL (the provider redirects to the agent's callback),
// poll.
func (s *site) guestLogin(t *testing.T, subject string) *api.GuestLoginResult {
	t.Helper()
	ctx := context.Background()
	s.idp.QueueUser(&mockoidc.MockUser{Subject: subject, Email: subject + "@guests.example.org", EmailVerified: true})
	c := s.client(t, "")
	start, err := c.Accounts().GuestLogin(ctx)
	must.NoError(t, err)
	resp, err := http.Get(start.URL)
	must.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("callback page: %s", page)
	res, err := c.Accounts().GuestLoginPoll(ctx, start.ID)
	must.NoError(t, err)
	must.True(t, res.Done)
	return res
}

// TestAuth_RemoteUsers: an LDAP user logs in over TCP, submits, and sees
// only their own jobs; an admin (by LDAP group) manages users and
// projects; a guest waits for activation, then runs as the guest user
// with a home of their own. Every attack in the table is refused with a
// clear error and leaves nothing behind.
func TestAuth_RemoteUsers(t *testing.T) {
	s := startSite(t)
	ctx := context.Background()
	aliceTok := s.login(t, ldaptest.Alice)
	bobTok := s.login(t, ldaptest.Bob)
	carolTok := s.login(t, ldaptest.Carol)
	alice, bob, carol := s.client(t, aliceTok), s.client(t, bobTok), s.client(t, carolTok)

	me, err := alice.Accounts().Whoami(ctx)
	must.NoError(t, err)
	must.Eq(t, api.AccountLDAP, me.Kind)
	must.Eq(t, ldaptest.Alice.UID, me.User.UID)
	must.False(t, me.Admin)
	adm, err := carol.Accounts().Whoami(ctx)
	must.NoError(t, err)
	must.True(t, adm.Admin, must.Sprint("carol is in god-admins"))

	vols, err := alice.Accounts().Volumes(ctx)
	must.NoError(t, err)
	usable := map[string]bool{}
	for _, v := range vols {
		usable[v.Name] = v.Usable
	}
	must.Eq(t, map[string]bool{"home": true, "shared": true, "private": false, "mine": true}, usable)

	// Alice's job runs as her LDAP uid and groups.
	sub, err := alice.Jobs().Submit(ctx, &api.JobSpec{Name: "who", Command: "id -u; id -G", Volumes: []string{"shared", "mine"}})
	must.NoError(t, err)
	j := s.waitOver(testUserFor(ldaptest.Alice), sub.ID)
	must.Eq(t, 0, exitCode(j), must.Sprint(s.readJobFile(sub.ID, "god.err")))
	out := s.readJobFile(sub.ID, "god.log")
	must.StrHasPrefix(t, "24001\n", out)
	must.StrContains(t, out, "24100")

	// Bob's jobs list does not show alice's job; an admin's does.
	bobs, err := bob.Jobs().List(ctx, nil)
	must.NoError(t, err)
	for _, x := range bobs {
		must.NotEq(t, sub.ID, x.ID)
	}
	all, err := carol.Jobs().List(ctx, nil)
	must.NoError(t, err)
	found := false
	for _, x := range all {
		found = found || x.ID == sub.ID
	}
	must.True(t, found, must.Sprint("an admin sees every job"))

	pending, err := alice.Jobs().Submit(ctx, &api.JobSpec{Name: "held", Command: "true", Hold: true})
	must.NoError(t, err)

	// The attack table.
	expired, _ := s.signer.Issue(ldaptest.Alice.Login, time.Now().Add(-2*time.Hour), time.Hour)
	otherSigner, err := token.NewSigner(token.NewKey())
	must.NoError(t, err)
	forged, _ := otherSigner.Issue(ldaptest.Carol.Login, time.Now(), time.Hour)
	revokedTok := s.login(t, ldaptest.Alice)
	must.NoError(t, s.client(t, revokedTok).Accounts().Logout(ctx))

	attacks := []struct {
		name string
		do   func() error
		want int
	}{
		{"no token on TCP", func() error { _, err := s.client(t, "").Jobs().List(ctx, nil); return err }, 401},
		{"forged token", func() error { _, err := s.client(t, forged).Jobs().List(ctx, nil); return err }, 401},
		{"tampered token", func() error {
			_, err := s.client(t, aliceTok[:len(aliceTok)-3]+"AAA").Jobs().List(ctx, nil)
			return err
		}, 401},
		{"expired token", func() error { _, err := s.client(t, expired).Jobs().List(ctx, nil); return err }, 401},
		{"revoked token", func() error { _, err := s.client(t, revokedTok).Jobs().List(ctx, nil); return err }, 401},
		{"status of another user's job", func() error { _, err := bob.Jobs().Info(ctx, sub.ID); return err }, 403},
		{"logs of another user's job", func() error { _, err := bob.Jobs().Logs(ctx, sub.ID, "stdout", 0, false); return err }, 403},
		{"kill another user's job", func() error { _, err := bob.Jobs().Stop(ctx, pending.ID); return err }, 403},
		{"release another user's job", func() error { _, err := bob.Jobs().Release(ctx, pending.ID); return err }, 403},
		{"why of another user's job", func() error { _, err := bob.Jobs().Why(ctx, pending.ID); return err }, 403},
		{"wrong password", func() error {
			_, err := s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "ldap-bob", Password: "alice-pw"})
			return err
		}, 401},
		{"unknown user", func() error {
			_, err := s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "nobody-here", Password: "x"})
			return err
		}, 401},
		{"LDAP filter injection: wildcard", func() error {
			_, err := s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "*", Password: "alice-pw"})
			return err
		}, 401},
		{"LDAP filter injection: or-clause", func() error {
			_, err := s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "ldap-carol)(|(uid=*", Password: "alice-pw"})
			return err
		}, 401},
		{"empty password", func() error {
			_, err := s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "ldap-carol"})
			return err
		}, 400},
		{"volume path traversal", func() error {
			_, err := alice.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Volumes: []string{"../../etc"}})
			return err
		}, 400},
		{"symlink escape in a volume", func() error {
			_, err := bob.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Volumes: []string{"mine"}})
			return err
		}, 400},
		{"volume reserved to another user", func() error {
			_, err := alice.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Volumes: []string{"private"}})
			return err
		}, 400},
		{"volume reserved to a group", func() error {
			_, err := bob.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Volumes: []string{"shared"}})
			return err
		}, 400},
		{"root when not allowed", func() error {
			_, err := alice.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Root: true})
			return err
		}, 400},
		{"image off the allowlist", func() error {
			_, err := alice.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Image: "evil/rootkit:1"})
			return err
		}, 400},
		{"project not a member of", func() error {
			_, err := alice.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Project: "secret"})
			return err
		}, 400},
		{"list users as non-admin", func() error { _, err := alice.Accounts().Users(ctx); return err }, 403},
		{"raise own priority", func() error {
			_, err := alice.Accounts().UpdateUser(ctx, "ldap-alice", &api.AccountUpdate{Priority: new(100)})
			return err
		}, 403},
		{"create a project as non-admin", func() error {
			_, err := alice.Accounts().CreateProject(ctx, &api.Project{Name: "mine"})
			return err
		}, 403},
		{"rotate another user's API key", func() error { _, err := alice.Accounts().RotateAPIKey(ctx, "ldap-bob"); return err }, 403},
		{"read another user's audit entries", func() error {
			_, err := alice.Accounts().Audit(ctx, &api.AuditQuery{Actor: "ldap-bob"})
			return err
		}, 403},
	}
	before := s.countJobs(t)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			err := a.do()
			requireStatus(t, a.want, err)
			must.StrNotContains(t, err.Error(), "internal error")
		})
	}
	must.Eq(t, before, s.countJobs(t), must.Sprint("no attack created a job"))
	st, err := alice.Jobs().Info(ctx, pending.ID)
	must.NoError(t, err)
	must.Eq(t, api.StatePending, st.Status.Primary, must.Sprint("bob's kill and release did nothing"))

	// Privileges and host paths the job spec has no field for are refused
	// as unknown fields, before anything is stored.
	for _, field := range []string{`"privileged": true`, `"cap_add": ["SYS_ADMIN"]`, `"devices": ["/dev/sda"]`, `"network_mode": "host"`, `"binds": ["/:/host"]`, `"user": "0"`} {
		body := `{"name": "x", "command": "true", ` + field + `}`
		req, _ := http.NewRequest(http.MethodPost, s.addr+"/v1/jobs", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+aliceTok)
		resp, err := http.DefaultClient.Do(req)
		must.NoError(t, err)
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		must.Eq(t, http.StatusBadRequest, resp.StatusCode, must.Sprint(field))
		must.StrContains(t, string(msg), "unknown field")
	}
	must.Eq(t, before, s.countJobs(t))

	// Guessing passwords: after five failures the login is refused even
	// with the right password, for a while.
	for range 5 {
		_, err := s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "ldap-carol", Password: "guess"})
		requireStatus(t, 401, err)
	}
	_, err = s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "ldap-carol", Password: ldaptest.Carol.Password})
	requireStatus(t, 429, err)

	// Projects: admins create them; members submit to them.
	p, err := carol.Accounts().CreateProject(ctx, &api.Project{Name: "genomics", Priority: 70, Members: []string{"ldap-alice"}})
	must.NoError(t, err)
	must.Eq(t, 70, p.Priority)
	_, err = alice.Jobs().Submit(ctx, &api.JobSpec{Name: "p", Command: "true", Project: "genomics", Hold: true})
	must.NoError(t, err)
	_, err = bob.Jobs().Submit(ctx, &api.JobSpec{Name: "p", Command: "true", Project: "genomics"})
	requireStatus(t, 400, err)
	must.StrContains(t, err.Error(), `not a member of project "genomics"`)
	mine, err := alice.Accounts().Projects(ctx)
	must.NoError(t, err)
	must.SliceLen(t, 2, mine) // default and genomics

	// An admin disables alice: her tokens stop working at once.
	_, err = carol.Accounts().UpdateUser(ctx, "ldap-alice", &api.AccountUpdate{Active: new(false)})
	must.NoError(t, err)
	_, err = alice.Jobs().List(ctx, nil)
	must.Error(t, err)
	must.True(t, statusOf(err) == 401 || statusOf(err) == 403, must.Sprint(err))
	_, err = s.client(t, "").Accounts().Login(ctx, &api.LoginRequest{Login: "ldap-alice", Password: ldaptest.Alice.Password})
	requireStatus(t, 403, err)

	// The audit log: admins see everything, with refusals.
	entries, err := carol.Accounts().Audit(ctx, &api.AuditQuery{Limit: 1000})
	must.NoError(t, err)
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action+" "+e.Outcome] = true
		must.NotEq(t, "", e.From)
	}
	for _, want := range []string{"login ok", "login refused", "job.submit ok", "job.submit refused", "job.stop refused", "user.update ok", "user.update refused", "project.create ok", "logout ok"} {
		must.True(t, seen[want], must.Sprintf("audit has %q", want))
	}
	own, err := bob.Accounts().Audit(ctx, nil)
	must.NoError(t, err)
	for _, e := range own {
		must.Eq(t, "ldap-bob", e.Actor)
	}

	// A guest: inactive until an admin activates them.
	res := s.guestLogin(t, "ada")
	must.StrContains(t, res.Error, "waiting for an admin to activate it")
	must.Nil(t, res.Login)
	users, err := carol.Accounts().Users(ctx)
	must.NoError(t, err)
	var guest *api.Account
	for _, u := range users {
		if u.Kind == api.AccountGuest {
			guest = u
		}
	}
	must.NotNil(t, guest)
	must.False(t, guest.Active)
	_, err = carol.Accounts().UpdateUser(ctx, guest.Login, &api.AccountUpdate{Active: new(true)})
	must.NoError(t, err)
	res = s.guestLogin(t, "ada")
	must.Eq(t, "", res.Error)
	must.NotNil(t, res.Login)
	gc := s.client(t, res.Login.Token)
	_, err = gc.Jobs().Submit(ctx, &api.JobSpec{Name: "x", Command: "true", Root: true})
	requireStatus(t, 400, err, "guest root")
	_, err = gc.Jobs().Info(ctx, sub.ID)
	requireStatus(t, 403, err, "guest reads alice's job")
	gj, err := gc.Jobs().Submit(ctx, &api.JobSpec{Name: "g", Command: `id -u; echo "$HOME"; touch "$HOME/mark"`, Volumes: []string{"home"}})
	must.NoError(t, err)
	guestCaller := &api.Caller{User: guest.User, Login: guest.Login, Kind: api.AccountGuest}
	gdone := s.waitOver(guestCaller, gj.ID)
	must.Eq(t, 0, exitCode(gdone), must.Sprint(s.readJobFile(gj.ID, "god.err")))
	nobody := testUserName(t, "nobody")
	must.StrHasPrefix(t, fmt.Sprintf("%d\n%s\n", nobody.UID, guest.User.Home), s.readJobFile(gj.ID, "god.log"))
	must.StrHasPrefix(t, s.homeRoot+"/", guest.User.Home)
	_, err = os.Stat(filepath.Join(guest.User.Home, "mark"))
	must.NoError(t, err, must.Sprint("the guest's job wrote in the guest's own home"))

	// A second guest, same system user, cannot reach the first one's job.
	_ = s.guestLogin(t, "eve") // inactive
	users, err = carol.Accounts().Users(ctx)
	must.NoError(t, err)
	for _, u := range users {
		if u.Kind == api.AccountGuest && u.Login != guest.Login {
			_, err = carol.Accounts().UpdateUser(ctx, u.Login, &api.AccountUpdate{Active: new(true)})
			must.NoError(t, err)
		}
	}
	eve := s.guestLogin(t, "eve")
	must.NotNil(t, eve.Login)
	evec := s.client(t, eve.Login.Token)
	_, err = evec.Jobs().Info(ctx, gj.ID)
	requireStatus(t, 403, err, "a guest reads another guest's job")
	// Bulk archiving and purging touch only the caller's own jobs, though
	// guests share a uid.
	time.Sleep(1100 * time.Millisecond)
	res2, err := evec.Jobs().ArchiveOlder(ctx, &api.ArchiveRequest{OlderThan: "1s", Purge: true})
	must.NoError(t, err)
	must.Eq(t, 0, res2.Archived+res2.Purged)
	_, err = gc.Jobs().Info(ctx, gj.ID)
	must.NoError(t, err, must.Sprint("ada's job is still there after eve's purge"))
}

// countJobs counts every job in the store.
func (s *site) countJobs(t *testing.T) int {
	t.Helper()
	jobs, err := s.store.List(context.Background(), store.Filter{})
	must.NoError(t, err)
	return len(jobs)
}

// testUserFor is the caller an LDAP test user becomes.
func testUserFor(u ldaptest.User) *api.Caller {
	return &api.Caller{User: api.User{Name: u.Login, UID: u.UID, GID: u.GID}, Login: u.Login, Kind: api.AccountLDAP}
}

func testUserName(t *testing.T, name string) api.User {
	t.Helper()
	u, err := localAuth{}.Lookup(context.Background(), name)
	must.NoError(t, err)
	return api.User{Name: u.Login, UID: u.UID, GID: u.GID}
}

// TestAuth_LocalAPIKey: a local user makes an API key on the agent's host
// (Unix socket, identified by the kernel) and logs in with it remotely;
// rotating the key retires the old one.
func TestAuth_LocalAPIKey(t *testing.T) {
	port := freePort(t)
	ta := startAgent(t, func(c *config.Config) {
		c.HTTP.Enabled, c.HTTP.Port = true, port
	})
	// No auth block: the default is API keys for local users only.
	ctx := context.Background()
	alice := testUser(t, aliceUID)
	// On the Unix socket, as the kernel would identify each user.
	asUser := func(uid int) *api.Caller {
		c, err := ta.Authenticate(ctx, &agenthttp.Credentials{Peer: identity.Peer{UID: uid, Known: true, Unix: true}, Remote: "unix"})
		must.NoError(t, err)
		must.Eq(t, api.ViaUnix, c.Via)
		return c
	}
	key, err := ta.RotateAPIKey(ctx, asUser(aliceUID), "self")
	must.NoError(t, err)
	remote := func(tok string) *api.Client {
		c, err := api.NewClient(&api.Config{Address: fmt.Sprintf("http://127.0.0.1:%d", port), Token: tok})
		must.NoError(t, err)
		return c
	}
	r, err := remote("").Accounts().Login(ctx, &api.LoginRequest{Login: alice.Name, APIKey: key.APIKey})
	must.NoError(t, err)
	me, err := remote(r.Token).Accounts().Whoami(ctx)
	must.NoError(t, err)
	must.Eq(t, api.AccountLocal, me.Kind)
	must.Eq(t, aliceUID, me.User.UID)
	must.True(t, me.APIKeySet)
	sub, err := remote(r.Token).Jobs().Submit(ctx, &api.JobSpec{Name: "k", Command: "id -un"})
	must.NoError(t, err)
	must.Eq(t, 0, exitCode(ta.waitOver(alice, sub.ID)))
	must.Eq(t, alice.Name+"\n", ta.readJobFile(sub.ID, "god.log"))

	// Another user's key does not open alice's account; a rotated key is dead.
	bob := testUser(t, bobUID)
	bobKey, err := ta.RotateAPIKey(ctx, asUser(bobUID), "self")
	must.NoError(t, err)
	_, err = remote("").Accounts().Login(ctx, &api.LoginRequest{Login: alice.Name, APIKey: bobKey.APIKey})
	requireStatus(t, 401, err)
	_, err = ta.RotateAPIKey(ctx, asUser(aliceUID), "self")
	must.NoError(t, err)
	_, err = remote("").Accounts().Login(ctx, &api.LoginRequest{Login: alice.Name, APIKey: key.APIKey})
	requireStatus(t, 401, err)
	_, err = ta.RotateAPIKey(ctx, asUser(aliceUID), bob.Name)
	must.ErrorContains(t, err, "permission denied")
	// Password logins are not enabled without a directory.
	_, err = remote("").Accounts().Login(ctx, &api.LoginRequest{Login: alice.Name, Password: "x"})
	requireStatus(t, 401, err)
	must.StrContains(t, err.Error(), "API key")
}

// vetoAll refuses everyone, as a directory would a locked account.
type vetoAll struct{ localAuth }

func (vetoAll) CanRun(_ context.Context, who *auth.Identity) error {
	return fmt.Errorf("%s is locked in the directory", who.Login)
}

// TestVeto: a job whose owner was disabled since submitting it, or whom a
// login method refuses, stays pending with the reason and does not start.
func TestVeto(t *testing.T) {
	ctx := context.Background()
	sem := make(chan struct{}, maxConcurrentDispatch)
	run := func(a *Agent) {
		_, err := a.cycle(ctx, sem)
		must.NoError(t, err)
		a.dispatching.Wait()
	}
	caller := func(a *Agent, uid int) *api.Caller {
		c, err := a.Authenticate(ctx, &agenthttp.Credentials{Peer: identity.Peer{UID: uid, Known: true, Unix: true}})
		must.NoError(t, err)
		return c
	}

	ex := fake.New(executor.Capacity{CPU: 8, Memory: 8 << 30})
	a := agentOn(t, ex, nil)
	alice, root := caller(a, aliceUID), caller(a, 0)
	j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "x", Command: "true"})
	must.NoError(t, err)
	_, err = a.UpdateAccount(ctx, root, alice.Login, &api.AccountUpdate{Active: new(false)})
	must.NoError(t, err)
	run(a)
	must.Eq(t, 0, ex.Starts())
	got, err := a.Job(ctx, root, j.ID, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StatePending, got.Status.Primary)
	must.StrContains(t, got.Status.Reason, "the account god-alice is disabled")
	_, err = a.Authenticate(ctx, &agenthttp.Credentials{Peer: identity.Peer{UID: aliceUID, Known: true, Unix: true}})
	must.ErrorContains(t, err, "disabled")

	ex2 := fake.New(executor.Capacity{CPU: 8, Memory: 8 << 30})
	b := agentOnWith(t, ex2, nil, []auth.Authenticator{vetoAll{}})
	j2, err := b.Submit(ctx, caller(b, aliceUID), &api.JobSpec{Name: "x", Command: "true"})
	must.NoError(t, err)
	run(b)
	must.Eq(t, 0, ex2.Starts())
	got, err = b.Job(ctx, caller(b, 0), j2.ID, 0, 0)
	must.NoError(t, err)
	must.StrContains(t, got.Status.Reason, "god-alice is locked in the directory")
}

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "god test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	cert, err := x509.ParseCertificate(der)
	must.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestAuth_TLS: with a certificate the TCP API speaks only HTTPS, and the
// socket keeps working; a bad certificate stops the agent at start with
// the file named.
func TestAuth_TLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	port := freePort(t)
	ta := startAgent(t, func(c *config.Config) {
		c.HTTP.Enabled, c.HTTP.Port, c.HTTP.TLSCert, c.HTTP.TLSKey = true, port, certFile, keyFile
	})
	ctx := context.Background()
	c := ta.Agent
	alice, err := c.Authenticate(ctx, &agenthttp.Credentials{Peer: identity.Peer{UID: aliceUID, Known: true, Unix: true}})
	must.NoError(t, err)
	key, err := c.RotateAPIKey(ctx, alice, "self")
	must.NoError(t, err)
	secure, err := api.NewClient(&api.Config{Address: fmt.Sprintf("https://127.0.0.1:%d", port), HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}})
	must.NoError(t, err)
	r, err := secure.Accounts().Login(ctx, &api.LoginRequest{Login: alice.Login, APIKey: key.APIKey})
	must.NoError(t, err)
	must.NotEq(t, "", r.Token)
	plain, err := api.NewClient(&api.Config{Address: fmt.Sprintf("http://127.0.0.1:%d", port)})
	must.NoError(t, err)
	_, err = plain.Accounts().Login(ctx, &api.LoginRequest{Login: alice.Login, APIKey: key.APIKey})
	must.Error(t, err, must.Sprint("plain HTTP to the TLS listener"))

	cfg := testConfig(t)
	cfg.HTTP.Enabled, cfg.HTTP.Port, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = true, freePort(t), keyFile, keyFile
	must.NoError(t, cfg.Finalize())
	st, err := sqlite.Open(filepath.Join(cfg.DataDir, "store"))
	must.NoError(t, err)
	defer st.Close()
	bad, err := New(cfg, Options{Store: st, Executor: fake.New(executor.Capacity{CPU: 1, Memory: 1 << 30}), Scheduler: fifo.Scheduler{}})
	must.NoError(t, err)
	err = bad.Run(ctx)
	must.ErrorContains(t, err, "http.tls_cert / http.tls_key")
}

// A binary built without PAM refuses auth "pam" at start, saying how to
// get it.
func TestAuth_PAMNotBuilt(t *testing.T) {
	if pam.Available {
		t.Skip("skipping: this test binary has PAM (-tags pam); plugins/auth/pam tests it")
	}
	cfg, err := config.Parse("pam.hcl", []byte(`auth "pam" {}`), testConfig(t))
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	_, err = buildAuthenticators(cfg, hclog.NewNullLogger())
	must.ErrorContains(t, err, "built without PAM support: build with -tags pam")
}

// siteVolumes resolves volumes itself, as a site's login method may.
type siteVolumes struct {
	localAuth
	data string
}

func (s siteVolumes) ResolveVolumes(_ context.Context, who *auth.Identity, requested []string, _ bool) ([]auth.Volume, error) {
	switch requested[0] {
	case "data":
		return []auth.Volume{{Name: "data", Source: s.data, Target: "/data/" + who.Login}}, nil
	case "sock":
		return []auth.Volume{{Name: "sock", Source: "/var/run", Target: "/host-run"}}, nil
	case "etc":
		return []auth.Volume{{Name: "etc", Source: s.data, Target: "/etc"}}, nil
	case "liar":
		return []auth.Volume{{Name: "data", Source: s.data, Target: "/x"}}, nil
	}
	return nil, fmt.Errorf("not for %s", who.Login)
}

// TestVolumeResolver: a login method that resolves volumes replaces the
// volume blocks, and its answers are held to the same rules: never the
// Docker socket, never over a system path, only what was asked.
func TestVolumeResolver(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	a := agentOnWith(t, fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30}), nil, []auth.Authenticator{siteVolumes{data: data}})
	alice := testUser(t, aliceUID)
	j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "v", Command: "true", Volumes: []string{"data"}})
	must.NoError(t, err)
	stored, err := a.store.Get(ctx, j.ID)
	must.NoError(t, err)
	task, err := a.prepare(stored)
	must.NoError(t, err)
	found := false
	for _, m := range task.Mounts {
		found = found || (m.Source == data && m.Target == "/data/god-alice")
	}
	must.True(t, found, must.Sprintf("mounts: %+v", task.Mounts))
	for name, want := range map[string]string{
		"sock":   "would expose the Docker socket",
		"etc":    "hide a system path",
		"liar":   "answered for other volumes",
		"secret": "not for god-alice",
	} {
		_, err := a.Submit(ctx, alice, &api.JobSpec{Name: "v", Command: "true", Volumes: []string{name}})
		must.Error(t, err, must.Sprint(name))
		must.StrContains(t, err.(*Error).Fields[0].Message, want)
	}
}

// TestSiteVolumes: admins define volumes through the API, checked as the
// configuration's are; ACLs hold at submit and dispatch; deleting one
// makes jobs that asked for it fail at dispatch with the reason.
func TestSiteVolumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	must.NoError(t, os.MkdirAll(filepath.Join(dir, "god-alice"), 0o755))
	a := agentOn(t, fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30}), func(c *config.Config) {
		c.Volumes = []*config.Volume{{Name: "scratch", Path: dir}}
	})
	alice, bob, root := testUser(t, aliceUID), testUser(t, bobUID), testUser(t, 0)
	_, err := a.CreateVolume(ctx, alice, &api.Volume{Name: "lab", Path: dir + "/$USER", Mount: "/lab"})
	must.ErrorContains(t, err, "only admins can define volumes")
	_, err = a.CreateVolume(ctx, root, &api.Volume{Name: "scratch", Path: dir})
	must.ErrorContains(t, err, "defined in the agent's configuration")
	for _, bad := range []*api.Volume{
		{Name: "sock", Path: "/var/run", Mount: "/run2"},
		{Name: "over-etc", Path: dir, Mount: "/etc"},
		{Name: "relative", Path: "data"},
		{Name: "Bad Name", Path: dir},
	} {
		_, err := a.CreateVolume(ctx, root, bad)
		must.Error(t, err, must.Sprint(bad.Name))
		must.Eq(t, http.StatusBadRequest, err.(*Error).Code)
	}
	v, err := a.CreateVolume(ctx, root, &api.Volume{Name: "lab", Path: dir + "/$USER", Mount: "/lab", Groups: []string{"god-lab"}})
	must.NoError(t, err)
	must.Eq(t, "/lab", v.Mount)
	_, err = a.CreateVolume(ctx, root, &api.Volume{Name: "lab", Path: dir})
	must.ErrorContains(t, err, "already exists")

	j, err := a.Submit(ctx, alice, &api.JobSpec{Name: "v", Command: "true", Volumes: []string{"lab"}})
	must.NoError(t, err)
	stored, err := a.store.Get(ctx, j.ID)
	must.NoError(t, err)
	task, err := a.prepare(stored)
	must.NoError(t, err)
	found := false
	for _, m := range task.Mounts {
		found = found || (m.Source == filepath.Join(dir, "god-alice") && m.Target == "/lab")
	}
	must.True(t, found, must.Sprintf("mounts: %+v", task.Mounts))
	_, err = a.Submit(ctx, bob, &api.JobSpec{Name: "v", Command: "true", Volumes: []string{"lab"}})
	must.ErrorContains(t, err, "job refused")
	must.StrContains(t, err.(*Error).Fields[0].Message, "volume lab is not for you: it is reserved to members of god-lab")
	vols, err := a.Volumes(ctx, alice)
	must.NoError(t, err)
	must.Eq(t, "lab", vols[len(vols)-1].Name)
	must.Eq(t, "api", vols[len(vols)-1].Defined)
	must.True(t, vols[len(vols)-1].Usable)

	must.ErrorContains(t, a.DeleteVolume(ctx, alice, "lab"), "only admins")
	must.ErrorContains(t, a.DeleteVolume(ctx, root, "scratch"), "defined in the agent's configuration")
	must.NoError(t, a.DeleteVolume(ctx, root, "lab"))
	_, err = a.prepare(stored)
	must.ErrorContains(t, err, `unknown volume "lab"`)
}
