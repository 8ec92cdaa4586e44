package pam

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shoenig/test/must"
)

// unavailable skips the test with a reason, except in CI, which runs the
// tests as root and so must not skip them.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the PAM tests: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), msg)
	t.Skipf("skipping: %s", msg)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	must.NoError(t, err)
	return hex.EncodeToString(b)
}

func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	must.NoError(t, err, must.Sprintf("%s %s: %s", name, strings.Join(args, " "), out))
	return strings.TrimSpace(string(out))
}

// testUser is a real user of the system user database.
type testUser struct {
	Login    string
	Password string // "" when the test did not create the user
	Extra    string // a supplementary group the test created, or ""
}

// createUser adds a user with a home, its own group, one more supplementary
// group and a password (useradd, chpasswd), removed again when the test
// ends (userdel -r). It needs root.
func createUser(t *testing.T) testUser {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "creating a test user with useradd needs root")
	}
	for _, tool := range []string{"useradd", "userdel", "groupadd", "groupdel", "chpasswd"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "%s is not installed (Debian package passwd)", tool)
		}
	}
	suffix := randomHex(t, 4)
	u := testUser{Login: "godpam" + suffix, Password: "pw-" + randomHex(t, 12), Extra: "godpamg" + suffix}
	run(t, "", "groupadd", u.Extra)
	t.Cleanup(func() { _ = exec.Command("groupdel", u.Extra).Run() })
	run(t, "", "useradd", "-m", "-U", "-G", u.Extra, "-s", "/bin/false", u.Login)
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-r", u.Login).CombinedOutput(); err != nil {
			t.Errorf("userdel -r %s: %v: %s", u.Login, err, out)
		}
		_ = exec.Command("groupdel", u.Login).Run() // when USERGROUPS_ENAB is off
	})
	run(t, u.Login+":"+u.Password+"\n", "chpasswd")
	return u
}

// someUser is a non-root user of the system user database: one the test
// creates when it runs as root, the caller otherwise.
func someUser(t *testing.T) testUser {
	t.Helper()
	if os.Geteuid() == 0 {
		return createUser(t)
	}
	me, err := user.Current()
	must.NoError(t, err)
	return testUser{Login: me.Username}
}

// wantIdentity is what id(1) and getent(1) say about login: an oracle
// independent of os/user.
type wantIdentity struct {
	UID, GID   int
	Groups     []int // supplementary, primary left out, sorted
	GroupNames []string
	Home       string
}

func oracle(t *testing.T, login string) wantIdentity {
	t.Helper()
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		must.NoError(t, err)
		return n
	}
	w := wantIdentity{UID: atoi(run(t, "", "id", "-u", login)), GID: atoi(run(t, "", "id", "-g", login))}
	for _, g := range strings.Fields(run(t, "", "id", "-G", login)) {
		if n := atoi(g); n != w.GID && !slices.Contains(w.Groups, n) {
			w.Groups = append(w.Groups, n)
		}
	}
	slices.Sort(w.Groups)
	w.GroupNames = strings.Fields(run(t, "", "id", "-Gn", login))
	slices.Sort(w.GroupNames)
	w.GroupNames = slices.Compact(w.GroupNames)
	fields := strings.Split(run(t, "", "getent", "passwd", login), ":")
	must.Eq(t, 7, len(fields))
	w.Home = fields[5]
	return w
}
