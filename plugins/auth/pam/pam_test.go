//go:build pam

package pam

// These tests run real PAM transactions (Linux-PAM through cgo) against
// service files written to a temporary directory, never /etc/pam.d (checked
// in TestMain). pam_permit, pam_deny and pam_exec stand in for a password
// store; as root, pam_unix also checks a user the test creates with useradd
// and chpasswd.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	gopam "github.com/msteinert/pam/v2"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/internal/testlog"
	"github.com/godocker/god/plugins/auth"
)

func TestMain(m *testing.M) {
	before := pamDirDigest()
	code := m.Run()
	if after := pamDirDigest(); after != before {
		fmt.Fprintln(os.Stderr, "FAIL: the tests changed /etc/pam.d")
		code = 1
	}
	os.Exit(code)
}

// pamDirDigest sums the names, modes and contents of /etc/pam.d.
func pamDirDigest() string {
	h := sha256.New()
	_ = filepath.WalkDir(DefaultConfDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(h, "%s: %v\n", path, err)
			return nil
		}
		info, _ := d.Info()
		data, _ := os.ReadFile(path)
		fmt.Fprintf(h, "%s %v %x\n", path, info.Mode(), sha256.Sum256(data))
		return nil
	})
	return fmt.Sprintf("%x", h.Sum(nil))
}

// pamEnv is a temporary PAM configuration directory with its services.
type pamEnv struct {
	dir  string
	logs *testlog.Buffer
}

// newPAMEnv writes the services the tests use:
//   - permit: accepts anyone, after recording the login in the file "called";
//   - deny: refuses everyone; acctdeny: the auth stack accepts, the account
//     stack refuses;
//   - check: accepts only the login in the file "user" with the password in
//     "password" (pam_exec reads the password PAM was given);
//   - slow: waits, up to 10 s, for the file "release";
//   - broken: names a module that does not exist;
//   - unix: pam_unix, the system's password database.
func newPAMEnv(t *testing.T) *pamEnv {
	t.Helper()
	if !gopam.CheckPamHasStartConfdir() {
		unavailable(t, "this Linux-PAM has no pam_start_confdir (1.4 or later needed)")
	}
	dir := t.TempDir()
	must.NoError(t, os.Chmod(dir, 0o755)) // pam_exec scripts run as the test's uid, but keep it plain
	q := "'" + dir + "'"
	must.False(t, strings.Contains(dir, "'"))
	scripts := map[string]string{
		"mark.sh": "#!/bin/sh\nprintf '%s\\n' \"$PAM_USER\" >>" + q + "/called\n",
		// pam_exec writes the password to stdin followed by a NUL.
		"check.sh": "#!/bin/sh\npw=$(tr -d '\\000')\n" +
			"[ \"$PAM_USER\" = \"$(cat " + q + "/user)\" ] && [ \"$pw\" = \"$(cat " + q + "/password)\" ]\n",
		"slow.sh": "#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do [ -e " + q + "/release ] && exit 0; sleep 0.05; i=$((i+1)); done\nexit 1\n",
	}
	for name, body := range scripts {
		must.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755))
	}
	services := map[string]string{
		"permit":   "auth optional pam_exec.so quiet @DIR@/mark.sh\nauth required pam_permit.so\naccount required pam_permit.so\n",
		"deny":     "auth requisite pam_deny.so\naccount required pam_permit.so\n",
		"acctdeny": "auth required pam_permit.so\naccount required pam_deny.so\n",
		"check": "auth [success=1 default=ignore] pam_exec.so quiet expose_authtok @DIR@/check.sh\n" +
			"auth requisite pam_deny.so\nauth required pam_permit.so\naccount required pam_permit.so\n",
		"slow":   "auth required pam_exec.so quiet @DIR@/slow.sh\naccount required pam_permit.so\n",
		"broken": "auth required pam_god_no_such_module.so\naccount required pam_permit.so\n",
		"unix":   "auth required pam_unix.so nodelay\naccount required pam_unix.so\n",
	}
	for name, body := range services {
		must.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(body, "@DIR@", dir)), 0o644))
	}
	return &pamEnv{dir: dir, logs: &testlog.Buffer{}}
}

func (e *pamEnv) authenticator(t *testing.T, service string) *Authenticator {
	t.Helper()
	log := hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Trace})
	a, err := New(Config{Service: service, ConfDir: e.dir}, log)
	must.NoError(t, err)
	return a
}

// called lists the logins the permit service saw, in order.
func (e *pamEnv) called(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.dir, "called"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	must.NoError(t, err)
	return strings.Fields(string(data))
}

// expect makes the check service accept login with password only.
func (e *pamEnv) expect(t *testing.T, login, password string) {
	t.Helper()
	must.NoError(t, os.WriteFile(filepath.Join(e.dir, "user"), []byte(login), 0o600))
	must.NoError(t, os.WriteFile(filepath.Join(e.dir, "password"), []byte(password), 0o600))
}

// noSecrets fails when a password made it into the logs.
func (e *pamEnv) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	logs := e.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatalf("a password appears in the logs:\n%s", logs)
		}
	}
}

func mustMatchOracle(t *testing.T, login string, id *auth.Identity) {
	t.Helper()
	w := oracle(t, login)
	must.Eq(t, login, id.Login)
	must.Eq(t, w.UID, id.UID)
	must.Eq(t, w.GID, id.GID)
	must.Eq(t, w.Groups, id.Groups)
	must.Eq(t, w.GroupNames, id.GroupNames)
	must.Eq(t, w.Home, id.Home)
}

func TestAvailable(t *testing.T) {
	must.True(t, Available)
	e := newPAMEnv(t)
	must.Eq(t, "pam", e.authenticator(t, "permit").Name())
}

func TestNew_checksTheServiceFile(t *testing.T) {
	e := newPAMEnv(t)
	_, err := New(Config{Service: "nosuch", ConfDir: e.dir}, nil)
	must.ErrorContains(t, err, `auth "pam": PAM service "nosuch" has no file `+filepath.Join(e.dir, "nosuch"))
	_, err = New(Config{Service: "a/b", ConfDir: e.dir}, nil)
	must.ErrorContains(t, err, "is not a PAM service name")
}

func TestAuthenticate_permit(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	id, err := e.authenticator(t, "permit").Authenticate(context.Background(), u.Login, "any password")
	must.NoError(t, err)
	mustMatchOracle(t, u.Login, id)
	must.Eq(t, []string{u.Login}, e.called(t))
	if u.Extra != "" {
		must.SliceContains(t, id.GroupNames, u.Extra)
	}
}

func TestAuthenticate_refusals(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	for service, step := range map[string]string{"deny": "step=authentication", "acctdeny": `step="account check"`} {
		e.logs = &testlog.Buffer{}
		_, err := e.authenticator(t, service).Authenticate(context.Background(), u.Login, "secret")
		must.ErrorIs(t, err, auth.ErrBadCredentials, must.Sprintf("service %s", service))
		must.StrContains(t, e.logs.String(), step)
	}
}

// An unknown login goes through PAM like a known one (same cost, so its
// timing tells nothing), and is refused even when PAM accepts it.
func TestAuthenticate_unknownLogin(t *testing.T) {
	e := newPAMEnv(t)
	login := "godpam-nobody-" + randomHex(t, 4)
	_, err := e.authenticator(t, "permit").Authenticate(context.Background(), login, "secret")
	must.ErrorIs(t, err, auth.ErrBadCredentials)
	must.Eq(t, []string{login}, e.called(t))
	must.StrContains(t, e.logs.String(), "system user database does not know")
}

// Root is refused before PAM sees its password, even by a stack that
// accepts everyone.
func TestAuthenticate_rootNeverReachesPAM(t *testing.T) {
	e := newPAMEnv(t)
	a := e.authenticator(t, "permit")
	_, err := a.Authenticate(context.Background(), "root", "guess")
	must.ErrorIs(t, err, auth.ErrBadCredentials)
	must.Nil(t, e.called(t))
	e.noSecrets(t, "guess")

	_, err = a.Lookup(context.Background(), "root")
	must.ErrorIs(t, err, auth.ErrUnknownUser)
}

func TestAuthenticate_badInputNeverReachesPAM(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	a := e.authenticator(t, "permit")
	for _, tc := range []struct{ login, password string }{
		{"", "secret"},
		{u.Login + " ", "secret"},
		{"a b", "secret"},
		{u.Login + "\x00x", "secret"},
		{u.Login + "\n", "secret"},
		{"\x1b[31m", "secret"},
		{strings.Repeat("a", MaxLoginLength+1), "secret"},
		{u.Login, ""},
		{u.Login, "secret\x00junk"},
		{u.Login, strings.Repeat("p", maxPasswordLength+1)},
	} {
		_, err := a.Authenticate(context.Background(), tc.login, tc.password)
		must.ErrorIs(t, err, auth.ErrBadCredentials, must.Sprintf("login %q password %q", tc.login, tc.password))
	}
	must.Nil(t, e.called(t))
}

// The password a user types is the one PAM checks, byte for byte, and only
// for that user.
func TestAuthenticate_passwordReachesPAM(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	a := e.authenticator(t, "check")
	for _, pw := range []string{"plain", `it's "quoted" $(id) ; rm -rf / && ünïcödé`, "with\nnewline", strings.Repeat("x", maxPasswordLength)} {
		e.expect(t, u.Login, pw)
		id, err := a.Authenticate(context.Background(), u.Login, pw)
		must.NoError(t, err, must.Sprintf("password %q", pw))
		must.Eq(t, u.Login, id.Login)

		_, err = a.Authenticate(context.Background(), u.Login, pw+"x")
		must.ErrorIs(t, err, auth.ErrBadCredentials)
		_, err = a.Authenticate(context.Background(), u.Login, pw[:len(pw)-1])
		must.ErrorIs(t, err, auth.ErrBadCredentials)
		e.noSecrets(t, pw)
	}
	e.expect(t, "someone-else", "shared")
	_, err := a.Authenticate(context.Background(), u.Login, "shared")
	must.ErrorIs(t, err, auth.ErrBadCredentials)
}

// Concurrent transactions each get their own password.
func TestAuthenticate_concurrent(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	e.expect(t, u.Login, "right")
	a := e.authenticator(t, "check")
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			pw := "right"
			if i%2 == 1 {
				pw = fmt.Sprintf("wrong-%d", i)
			}
			_, errs[i] = a.Authenticate(context.Background(), u.Login, pw)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 {
			must.NoError(t, err, must.Sprintf("attempt %d", i))
		} else {
			must.ErrorIs(t, err, auth.ErrBadCredentials, must.Sprintf("attempt %d", i))
		}
	}
}

// A caller that gives up gets its context's error while PAM still runs.
func TestAuthenticate_contextEnds(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	a := e.authenticator(t, "slow")
	t.Cleanup(func() {
		// Let the transaction end before the directory goes.
		_ = os.WriteFile(filepath.Join(e.dir, "release"), nil, 0o644)
		for range 200 {
			if len(a.slot) == 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Authenticate(ctx, u.Login, "secret")
	must.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = a.Authenticate(ctx, u.Login, "secret")
	must.ErrorIs(t, err, context.DeadlineExceeded)
}

// A broken stack is the site's problem, not the user's: an error naming the
// service, not "invalid login or password".
func TestAuthenticate_brokenStack(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	_, err := e.authenticator(t, "broken").Authenticate(context.Background(), u.Login, "secret")
	must.Error(t, err)
	must.False(t, errors.Is(err, auth.ErrBadCredentials))
	must.ErrorContains(t, err, `PAM service "broken" failed during authentication`)
	t.Logf("broken stack: %v", err)
	e.noSecrets(t, "secret")
}

// pam_unix against a user the test creates: the real password database,
// with expired, locked and aged accounts.
func TestAuthenticate_unix(t *testing.T) {
	e := newPAMEnv(t)
	u := createUser(t)
	for _, tool := range []string{"usermod", "chage"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "%s is not installed (Debian package passwd)", tool)
		}
	}
	a := e.authenticator(t, "unix")
	ctx := context.Background()

	id, err := a.Authenticate(ctx, u.Login, u.Password)
	must.NoError(t, err, must.Sprintf("logs: %s", e.logs.String()))
	mustMatchOracle(t, u.Login, id)
	must.SliceContains(t, id.GroupNames, u.Extra)
	must.Eq(t, 1, len(id.Groups))
	must.Eq(t, "/home/"+u.Login, id.Home)

	_, err = a.Authenticate(ctx, u.Login, u.Password+"x")
	must.ErrorIs(t, err, auth.ErrBadCredentials)
	_, err = a.Authenticate(ctx, "godpam-nobody-"+randomHex(t, 4), u.Password)
	must.ErrorIs(t, err, auth.ErrBadCredentials)

	for _, tc := range []struct {
		name      string
		bar, undo []string
	}{
		{"account expired", []string{"usermod", "-e", "1", u.Login}, []string{"usermod", "-e", "", u.Login}},
		{"password locked", []string{"usermod", "-L", u.Login}, []string{"usermod", "-U", u.Login}},
		{"password must change", []string{"chage", "-d", "0", u.Login}, []string{"chage", "-d", time.Now().Format("2006-01-02"), u.Login}},
	} {
		run(t, "", tc.bar[0], tc.bar[1:]...)
		_, err := a.Authenticate(ctx, u.Login, u.Password)
		must.ErrorIs(t, err, auth.ErrBadCredentials, must.Sprintf("%s", tc.name))
		run(t, "", tc.undo[0], tc.undo[1:]...)
		_, err = a.Authenticate(ctx, u.Login, u.Password)
		must.NoError(t, err, must.Sprintf("after undoing %s", tc.name))
	}
	e.noSecrets(t, u.Password)
}

func TestLookup(t *testing.T) {
	e := newPAMEnv(t)
	u := someUser(t)
	a := e.authenticator(t, "deny") // Lookup never asks PAM
	id, err := a.Lookup(context.Background(), u.Login)
	must.NoError(t, err)
	mustMatchOracle(t, u.Login, id)

	for _, login := range []string{"root", "godpam-nobody-" + randomHex(t, 4), "", "a b", "x\x00"} {
		_, err := a.Lookup(context.Background(), login)
		must.ErrorIs(t, err, auth.ErrUnknownUser, must.Sprintf("login %q", login))
	}
	must.False(t, slices.Contains(e.called(t), u.Login))
}

// documentedStack is /etc/pam.d/god as the documentation (auth-pam.md)
// gives it for Debian.
const documentedStack = `# /etc/pam.d/god: passwords of GoDocker's remote users
auth     required   pam_succeed_if.so uid >= 1000 quiet_success
@include common-auth
@include common-account
`

// The stack the documentation recommends, with copies of this machine's
// Debian common-auth and common-account: users log in, system accounts do
// not.
func TestAuthenticate_documentedStack(t *testing.T) {
	e := newPAMEnv(t)
	for _, name := range []string{"common-auth", "common-account"} {
		data, err := os.ReadFile(filepath.Join(DefaultConfDir, name))
		if err != nil {
			unavailable(t, "the documented stack includes Debian's %s: %v", name, err)
		}
		must.NoError(t, os.WriteFile(filepath.Join(e.dir, name), data, 0o644))
	}
	must.NoError(t, os.WriteFile(filepath.Join(e.dir, "god"), []byte(documentedStack), 0o644))
	doc, err := os.ReadFile("../../../website/content/docs/auth-pam.md")
	must.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(documentedStack), "\n") {
		must.StrContains(t, string(doc), line+"\n")
	}

	u := createUser(t)
	a := e.authenticator(t, DefaultService)
	ctx := context.Background()
	id, err := a.Authenticate(ctx, u.Login, u.Password)
	must.NoError(t, err, must.Sprintf("logs: %s", e.logs.String()))
	must.Eq(t, u.Login, id.Login)
	_, err = a.Authenticate(ctx, u.Login, "not-"+u.Password)
	must.ErrorIs(t, err, auth.ErrBadCredentials)

	// A system account (useradd -r: uid below 1000) with a valid password.
	sys := "godpamsys" + randomHex(t, 3)
	run(t, "", "useradd", "-r", "-M", "-s", "/bin/false", sys)
	t.Cleanup(func() { _ = exec.Command("userdel", sys).Run() })
	run(t, sys+":"+u.Password+"\n", "chpasswd")
	must.Less(t, 1000, oracle(t, sys).UID)
	_, err = a.Authenticate(ctx, sys, u.Password)
	must.ErrorIs(t, err, auth.ErrBadCredentials)
	e.noSecrets(t, u.Password)
}
