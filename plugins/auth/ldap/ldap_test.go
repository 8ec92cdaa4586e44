package ldap_test

// These tests run against a real OpenLDAP slapd started by ldaptest (no
// mocks): `make testenv` installs it. Without it they skip, except in CI.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/internal/testlog"
	"github.com/godocker/god/plugins/auth"
	"github.com/godocker/god/plugins/auth/ldap"
	"github.com/godocker/god/plugins/auth/ldap/ldaptest"
)

// newAuth returns an authenticator logging at trace level into a buffer,
// and checks at the end of the test that no password of the server's users
// (or the service account's) ever reached the log.
func newAuth(t *testing.T, s *ldaptest.Server, cfg ldap.Config) (*ldap.Authenticator, *testlog.Buffer) {
	t.Helper()
	buf := &testlog.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Name: "ldap", Level: hclog.Trace, Output: buf})
	a, err := ldap.New(cfg, log)
	must.NoError(t, err)
	t.Cleanup(func() {
		out := buf.String()
		secrets := []string{s.BindPassword, s.RootPassword}
		for _, u := range s.Users() {
			secrets = append(secrets, u.Password)
		}
		for _, p := range secrets {
			if p != "" && strings.Contains(out, p) {
				t.Errorf("a password (%q) appears in the log:\n%s", p, out)
			}
		}
	})
	return a, buf
}

var (
	aliceWant = &auth.Identity{
		Login: "ldap-alice", UID: 24001, GID: 24001,
		Groups:     []int{24100},
		GroupNames: []string{"ldap-alice", "ldap-lab", "ldap-web"},
		Home:       "/home/ldap-alice", Email: "ldap-alice@example.org",
	}
	bobWant = &auth.Identity{
		Login: "ldap-bob", UID: 24002, GID: 24002,
		GroupNames: []string{"ldap-bob"},
		Home:       "/home/ldap-bob", Email: "ldap-bob@example.org",
	}
	carolWant = &auth.Identity{
		Login: "ldap-carol", UID: 24003, GID: 24003,
		Groups:     []int{24200},
		GroupNames: []string{"god-admins", "ldap-carol"},
		Home:       "/home/ldap-carol", Email: "ldap-carol@example.org",
	}
)

const startTLSOp = "EXT oid=1.3.6.1.4.1.1466.20037"

func TestAuthenticate_transports(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()

	cases := []struct {
		name     string
		cfg      func(*ldap.Config)
		startTLS bool
	}{
		{"plain", func(*ldap.Config) {}, false},
		{"ldaps", func(c *ldap.Config) { c.URLs = []string{s.LDAPSURL} }, false},
		{"starttls", func(c *ldap.Config) { c.StartTLS = true }, true},
		{"ldaps by name", func(c *ldap.Config) {
			c.URLs = []string{strings.Replace(s.LDAPSURL, "127.0.0.1", "localhost", 1)}
		}, false},
		{"anonymous search", func(c *ldap.Config) { c.BindDN, c.BindPassword = "", "" }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.Config()
			tc.cfg(&cfg)
			a, _ := newAuth(t, s, cfg)
			before := strings.Count(s.Log(), startTLSOp)

			for _, c := range []struct {
				user ldaptest.User
				want *auth.Identity
			}{{ldaptest.Alice, aliceWant}, {ldaptest.Bob, bobWant}, {ldaptest.Carol, carolWant}} {
				got, err := a.Authenticate(ctx, c.user.Login, c.user.Password)
				must.NoError(t, err)
				must.Eq(t, c.want, got)
			}
			// Each login opens two connections (search, then bind).
			if tc.startTLS {
				must.Eq(t, before+6, strings.Count(s.Log(), startTLSOp))
			} else {
				must.Eq(t, before, strings.Count(s.Log(), startTLSOp))
			}
		})
	}
}

func TestAuthenticate_refused(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	a, _ := newAuth(t, s, s.Config())
	aliceDN := ldaptest.UserDN(ldaptest.Alice.Login)

	t.Run("wrong password and unknown user give the same error", func(t *testing.T) {
		binds := s.Binds(aliceDN)
		_, wrongPW := a.Authenticate(ctx, "ldap-alice", "bob-pw")
		must.ErrorIs(t, wrongPW, auth.ErrBadCredentials)
		must.Eq(t, binds+1, s.Binds(aliceDN)) // the server checked it

		_, unknown := a.Authenticate(ctx, "ldap-nobody", "alice-pw")
		must.ErrorIs(t, unknown, auth.ErrBadCredentials)
		must.EqError(t, unknown, wrongPW.Error())
	})

	t.Run("empty password refused before any bind", func(t *testing.T) {
		// This server accepts an unauthenticated bind (DN, no password)
		// like Active Directory: sending one would "succeed".
		c, err := goldap.DialURL(s.URL)
		must.NoError(t, err)
		must.NoError(t, c.UnauthenticatedBind(aliceDN))
		c.Close()

		binds := s.Binds(aliceDN)
		_, err = a.Authenticate(ctx, "ldap-alice", "")
		must.ErrorIs(t, err, auth.ErrBadCredentials)
		must.Eq(t, binds, s.Binds(aliceDN))
		// The count does move for a real attempt: the check above can fail.
		_, err = a.Authenticate(ctx, "ldap-alice", "alice-pw")
		must.NoError(t, err)
		must.Eq(t, binds+1, s.Binds(aliceDN))
	})

	t.Run("case of the login", func(t *testing.T) {
		// uid matches case-insensitively; the identity has the
		// directory's spelling, so one person is one GoDocker user.
		got, err := a.Authenticate(ctx, "LDAP-Alice", "alice-pw")
		must.NoError(t, err)
		must.Eq(t, "ldap-alice", got.Login)
	})

	t.Run("invalid logins never reach the server", func(t *testing.T) {
		searches := strings.Count(s.Log(), " SRCH ")
		for _, login := range []string{"", "ldap-alice\x00", strings.Repeat("a", ldap.MaxLoginLength+1), "ldap-\nalice", " ldap-alice", "\xff\xfe"} {
			_, err := a.Authenticate(ctx, login, "alice-pw")
			must.ErrorIs(t, err, auth.ErrBadCredentials, must.Sprintf("login %q", login))
			_, err = a.Lookup(ctx, login)
			must.ErrorIs(t, err, auth.ErrUnknownUser, must.Sprintf("login %q", login))
		}
		must.Eq(t, searches, strings.Count(s.Log(), " SRCH "))
	})
}

// TestAuthenticate_filterInjection tries logins that would widen the user
// filter if they were pasted into it unescaped, with passwords of users they
// could then match.
func TestAuthenticate_filterInjection(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	a, _ := newAuth(t, s, s.Config())
	// A user whose login is made of the special characters: escaping must
	// let them log in, and only them.
	odd := s.AddUser(t, ldaptest.User{Login: `ldap-(dave)*\`, Password: "dave-pw", UID: 24004, GID: 24004})

	logins := []string{
		"*",
		"ldap-alice)(uid=*",
		"*)(|(uid=*",
		"ldap-alice)(|(objectClass=*",
		`ldap-alice\00`,
		`ldap-alice\2a`,
		`ldap-alice\`,
		`\\`,
		"ldap-a*",
		"(ldap-alice)",
		"ldap-alice)",
		"(uid=ldap-alice)",
		"ldap-(dave)",
		`ldap-(dave)\2a\5c`,
		`ldap-(dave)*`,
		`ldap-(dave)**`,
		"ldap-\u00e0lice",
	}
	users := s.Users()
	binds := map[string]int{}
	for _, u := range users {
		binds[u.DN] = s.Binds(u.DN)
	}
	for _, login := range logins {
		for _, u := range users {
			_, err := a.Authenticate(ctx, login, u.Password)
			must.ErrorIs(t, err, auth.ErrBadCredentials, must.Sprintf("login %q, password of %s", login, u.Login))
		}
		_, err := a.Lookup(ctx, login)
		must.ErrorIs(t, err, auth.ErrUnknownUser, must.Sprintf("lookup %q", login))
	}
	// The searches matched nothing, so nobody's password was even tried.
	for _, u := range users {
		must.Eq(t, binds[u.DN], s.Binds(u.DN), must.Sprintf("binds as %s", u.DN))
	}

	got, err := a.Authenticate(ctx, odd.Login, "dave-pw")
	must.NoError(t, err)
	must.Eq(t, odd.Login, got.Login)
	must.Eq(t, 24004, got.UID)
	_, err = a.Authenticate(ctx, odd.Login, "alice-pw")
	must.ErrorIs(t, err, auth.ErrBadCredentials)
}

func TestAuthenticate_ambiguousLogin(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	a, _ := newAuth(t, s, s.Config())
	first := s.AddUser(t, ldaptest.User{Login: "ldap-twin", Password: "twin-pw", UID: 24010, GID: 24010})
	second := s.AddUser(t, ldaptest.User{Login: "ldap-twin", Password: "twin-pw", UID: 24011, GID: 24011,
		DN: "cn=ldap-twin-2," + ldaptest.PeopleDN})

	_, err := a.Authenticate(ctx, "ldap-twin", "twin-pw")
	must.ErrorIs(t, err, auth.ErrBadCredentials)
	must.Eq(t, 0, s.Binds(first.DN))
	must.Eq(t, 0, s.Binds(second.DN))

	_, err = a.Lookup(ctx, "ldap-twin")
	must.ErrorContains(t, err, "matches several entries")
	must.False(t, errors.Is(err, auth.ErrUnknownUser))
}

func TestAuthenticate_unreachable(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	dead := deadURL(t)

	cfg := s.Config()
	cfg.URLs = []string{dead}
	a, _ := newAuth(t, s, cfg)
	_, err := a.Authenticate(ctx, "ldap-alice", "alice-pw")
	must.ErrorIs(t, err, ldap.ErrUnreachable)
	must.False(t, errors.Is(err, auth.ErrBadCredentials))
	must.ErrorContains(t, err, dead)
	_, err = a.Lookup(ctx, "ldap-alice")
	must.ErrorIs(t, err, ldap.ErrUnreachable)
	must.False(t, errors.Is(err, auth.ErrUnknownUser))

	t.Run("failover to the next URL", func(t *testing.T) {
		cfg := s.Config()
		cfg.URLs = []string{dead, s.URL}
		a, _ := newAuth(t, s, cfg)
		got, err := a.Authenticate(ctx, "ldap-alice", "alice-pw")
		must.NoError(t, err)
		must.Eq(t, aliceWant, got)
	})
}

// TestSilentServer: a server that accepts connections and never answers
// holds a login only as long as the caller's context or the request timeout.
func TestSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	url := "ldap://" + l.Addr().String()

	a, err := ldap.New(ldap.Config{URLs: []string{url}, BaseDN: "dc=example,dc=org", RequestTimeout: time.Hour}, nil)
	must.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = a.Lookup(ctx, "ldap-alice")
	must.ErrorIs(t, err, context.DeadlineExceeded)
	must.ErrorContains(t, err, url)

	a, err = ldap.New(ldap.Config{URLs: []string{url}, BaseDN: "dc=example,dc=org", RequestTimeout: 200 * time.Millisecond}, nil)
	must.NoError(t, err)
	_, err = a.Authenticate(context.Background(), "ldap-alice", "alice-pw")
	must.ErrorContains(t, err, url)
	must.False(t, errors.Is(err, auth.ErrBadCredentials))
}

func TestAuthenticate_tls(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	wrongCA, err := ldaptest.WriteCA(t.TempDir())
	must.NoError(t, err)

	for _, tc := range []struct {
		name, url string
		startTLS  bool
	}{
		{"ldaps", s.LDAPSURL, false},
		{"starttls", s.URL, true},
	} {
		t.Run(tc.name+" wrong CA", func(t *testing.T) {
			cfg := s.Config()
			cfg.URLs, cfg.StartTLS, cfg.CACert = []string{tc.url}, tc.startTLS, wrongCA
			a, _ := newAuth(t, s, cfg)
			binds := s.Binds(ldaptest.UserDN("ldap-alice"))
			_, err := a.Authenticate(ctx, "ldap-alice", "alice-pw")
			must.ErrorIs(t, err, ldap.ErrUnreachable)
			must.ErrorContains(t, err, tc.url)
			must.ErrorContains(t, err, "certificate")
			must.Eq(t, binds, s.Binds(ldaptest.UserDN("ldap-alice")))
		})
		t.Run(tc.name+" wrong server name", func(t *testing.T) {
			cfg := s.Config()
			cfg.URLs, cfg.StartTLS, cfg.TLSServerName = []string{tc.url}, tc.startTLS, "ldap.example.org"
			a, _ := newAuth(t, s, cfg)
			_, err := a.Authenticate(ctx, "ldap-alice", "alice-pw")
			must.ErrorIs(t, err, ldap.ErrUnreachable)
			must.ErrorContains(t, err, "ldap.example.org")
		})
		t.Run(tc.name+" insecure skip verify", func(t *testing.T) {
			cfg := s.Config()
			cfg.URLs, cfg.StartTLS, cfg.CACert, cfg.InsecureSkipVerify = []string{tc.url}, tc.startTLS, wrongCA, true
			a, logs := newAuth(t, s, cfg)
			must.StrContains(t, logs.String(), "NOT VERIFIED")
			got, err := a.Authenticate(ctx, "ldap-alice", "alice-pw")
			must.NoError(t, err)
			must.Eq(t, aliceWant, got)
		})
	}
}

func TestLookup(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	a, _ := newAuth(t, s, s.Config())

	got, err := a.Lookup(ctx, "ldap-carol")
	must.NoError(t, err)
	must.Eq(t, carolWant, got)
	_, err = a.Lookup(ctx, "ldap-nobody")
	must.ErrorIs(t, err, auth.ErrUnknownUser)

	// A user added while the authenticator runs is found at once.
	s.AddUser(t, ldaptest.User{Login: "ldap-erin", Password: "erin-pw", UID: 24005, GID: 24100})
	got, err = a.Lookup(ctx, "ldap-erin")
	must.NoError(t, err)
	must.Eq(t, 24100, got.GID)
	must.Eq(t, []string{"ldap-lab"}, got.GroupNames) // primary group found by gid
	must.SliceEmpty(t, got.Groups)
	s.AddGroup(t, ldaptest.Group{Name: "ldap-erin-team", GID: 24300, Members: []string{"ldap-erin"}})
	got, err = a.Lookup(ctx, "ldap-erin")
	must.NoError(t, err)
	must.Eq(t, []string{"ldap-erin-team", "ldap-lab"}, got.GroupNames)
	must.Eq(t, []int{24300}, got.Groups)

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := a.Lookup(cctx, "ldap-alice")
		must.ErrorIs(t, err, context.Canceled)
	})
}

func TestAttributes(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	s.AddUser(t, ldaptest.User{Login: "ldap-bad-id", Password: "bad-pw", UID: 24020, GID: 24020,
		Extra: map[string][]string{"employeeNumber": {"12x"}, "departmentNumber": {"0"}}})

	for _, tc := range []struct {
		name  string
		attrs ldap.Attributes
		want  []string
	}{
		{"missing uid", ldap.Attributes{UID: "roomNumber"}, []string{"no roomNumber attribute", "uid_attribute"}},
		{"invalid uid", ldap.Attributes{UID: "employeeNumber"}, []string{"employeeNumber", `"12x"`}},
		{"root gid", ldap.Attributes{GID: "departmentNumber"}, []string{"departmentNumber = 0 (root) is refused"}},
		{"missing login", ldap.Attributes{Login: "displayName"}, []string{"no displayName attribute"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.Config()
			cfg.Attributes = tc.attrs
			a, _ := newAuth(t, s, cfg)
			_, err := a.Lookup(ctx, "ldap-bad-id")
			for _, w := range tc.want {
				must.ErrorContains(t, err, w)
			}
			_, err = a.Authenticate(ctx, "ldap-bad-id", "bad-pw")
			must.Error(t, err)
			must.False(t, errors.Is(err, auth.ErrBadCredentials))
			// A wrong password says nothing about the entry's attributes.
			_, err = a.Authenticate(ctx, "ldap-bad-id", "nope")
			must.ErrorIs(t, err, auth.ErrBadCredentials)
		})
	}
}

func TestServiceAccount(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()

	a, _ := newAuth(t, s, s.Config())
	must.NoError(t, a.Check(ctx))

	// The password from a file, as a site would keep it.
	pwFile := filepath.Join(t.TempDir(), "bind-pw")
	must.NoError(t, os.WriteFile(pwFile, []byte(s.BindPassword+"\n"), 0o600))
	cfg := s.Config()
	cfg.BindPassword, cfg.BindPasswordFile = "", pwFile
	a, _ = newAuth(t, s, cfg)
	_, err := a.Authenticate(ctx, "ldap-alice", "alice-pw")
	must.NoError(t, err)

	cfg = s.Config()
	cfg.BindPassword = "not-the-service-pw"
	a, _ = newAuth(t, s, cfg)
	_, err = a.Authenticate(ctx, "ldap-alice", "alice-pw")
	must.ErrorContains(t, err, "bind_password")
	must.False(t, errors.Is(err, auth.ErrBadCredentials))
	must.StrNotContains(t, err.Error(), "not-the-service-pw")
	must.ErrorContains(t, a.Check(ctx), "bind_password")

	cfg = s.Config()
	cfg.BaseDN = "dc=elsewhere,dc=org"
	a, _ = newAuth(t, s, cfg)
	must.ErrorContains(t, a.Check(ctx), `base_dn "dc=elsewhere,dc=org" does not exist`)
	_, err = a.Lookup(ctx, "ldap-alice")
	must.ErrorContains(t, err, "base_dn")
	must.False(t, errors.Is(err, auth.ErrUnknownUser))
}

func TestDefaults(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	s.AddUser(t, ldaptest.User{Login: "ldap-prio", UID: 24030, GID: 24030, Extra: map[string][]string{"employeeNumber": {"70"}}})
	s.AddUser(t, ldaptest.User{Login: "ldap-prio-bad", UID: 24031, GID: 24031, Extra: map[string][]string{"employeeNumber": {"150"}}})

	cfg := s.Config()
	cfg.PriorityAttribute = "employeeNumber"
	a, _ := newAuth(t, s, cfg)
	var _ auth.Defaulter = a

	d, err := a.Defaults(ctx, &auth.Identity{Login: "ldap-prio"})
	must.NoError(t, err)
	must.NotNil(t, d.Priority)
	must.Eq(t, 70, *d.Priority)

	d, err = a.Defaults(ctx, &auth.Identity{Login: "ldap-alice"})
	must.NoError(t, err)
	must.Nil(t, d.Priority)

	_, err = a.Defaults(ctx, &auth.Identity{Login: "ldap-prio-bad"})
	must.ErrorContains(t, err, "priority_attribute")

	// Not configured: no default, and the directory is not asked.
	plain, _ := newAuth(t, s, s.Config())
	searches := strings.Count(s.Log(), " SRCH ")
	d, err = plain.Defaults(ctx, &auth.Identity{Login: "ldap-prio"})
	must.NoError(t, err)
	must.Nil(t, d.Priority)
	must.Eq(t, searches, strings.Count(s.Log(), " SRCH "))
}

func TestConcurrentLogins(t *testing.T) {
	s := ldaptest.Start(t)
	ctx := context.Background()
	cfg := s.Config()
	cfg.StartTLS = true
	a, _ := newAuth(t, s, cfg)

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			for range 4 {
				switch i % 4 {
				case 0:
					got, err := a.Authenticate(ctx, "ldap-alice", "alice-pw")
					if err == nil && got.UID != aliceWant.UID {
						err = fmt.Errorf("alice got uid %d", got.UID)
					}
					errs <- err
				case 1:
					_, err := a.Authenticate(ctx, "ldap-bob", "alice-pw")
					if !errors.Is(err, auth.ErrBadCredentials) {
						errs <- fmt.Errorf("bob with alice's password: %v", err)
					}
				case 2:
					got, err := a.Lookup(ctx, "ldap-carol")
					if err == nil && got.UID != carolWant.UID {
						err = fmt.Errorf("carol got uid %d", got.UID)
					}
					errs <- err
				case 3:
					_, err := a.Authenticate(ctx, "ldap-carol", "")
					if !errors.Is(err, auth.ErrBadCredentials) {
						errs <- fmt.Errorf("carol without password: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must.NoError(t, err)
	}
}

func TestNew_invalidConfig(t *testing.T) {
	ok := ldap.Config{URLs: []string{"ldap://127.0.0.1"}, BaseDN: "dc=example,dc=org"}
	_, err := ldap.New(ok, nil)
	must.NoError(t, err)

	for _, tc := range []struct {
		name   string
		change func(*ldap.Config)
		want   string
	}{
		{"no url", func(c *ldap.Config) { c.URLs = nil }, "urls: at least one"},
		{"bad scheme", func(c *ldap.Config) { c.URLs = []string{"http://x"} }, "ldap:// or ldaps://"},
		{"no host", func(c *ldap.Config) { c.URLs = []string{"ldap://"} }, "no host"},
		{"starttls on ldaps", func(c *ldap.Config) { c.URLs, c.StartTLS = []string{"ldaps://x"}, true }, "start_tls"},
		{"no base", func(c *ldap.Config) { c.BaseDN = "" }, "base_dn: required"},
		{"bad base", func(c *ldap.Config) { c.BaseDN = "not a dn" }, "base_dn"},
		{"filter without login", func(c *ldap.Config) { c.UserFilter = "(uid=alice)" }, "{login}"},
		{"bad filter", func(c *ldap.Config) { c.UserFilter = "(uid={login}" }, "user_filter"},
		{"bad group filter", func(c *ldap.Config) { c.GroupFilter = "memberUid={login}" }, "group_filter"},
		{"bind dn without password", func(c *ldap.Config) { c.BindDN = "cn=x" }, "bind_password is empty"},
		{"password without bind dn", func(c *ldap.Config) { c.BindPassword = "x" }, "bind_dn is empty"},
		{"password and password file", func(c *ldap.Config) {
			c.BindDN, c.BindPassword, c.BindPasswordFile = "cn=x", "x", "/etc/hostname"
		}, "not both"},
		{"missing password file", func(c *ldap.Config) {
			c.BindDN, c.BindPasswordFile = "cn=x", "/nonexistent/pw"
		}, "bind_password_file"},
		{"missing CA file", func(c *ldap.Config) { c.CACert = "/nonexistent/ca.pem" }, "ca_cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.change(&cfg)
			_, err := ldap.New(cfg, nil)
			must.ErrorContains(t, err, tc.want)
		})
	}
}

// deadURL is an ldap:// URL on which nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return "ldap://" + addr
}
