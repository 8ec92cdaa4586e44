// Package ldaptest starts a real OpenLDAP slapd for tests: its own
// slapd.conf and database in a temporary directory, loaded with test users and
// groups, listening on 127.0.0.1 with ldap:// (StartTLS too) and ldaps://
// under a throw-away certificate authority. Tests of any package can log in
// against it.
//
// Like Active Directory, the server accepts unauthenticated binds (a DN with
// an empty password), so that tests can show a client refusing them.
//
// Without slapd (Debian packages slapd and ldap-utils, installed by
// scripts/testenv-ldap.sh), Start skips the test with the reason, or fails
// it when the CI environment variable is set.
package ldaptest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/godocker/god/internal/testlog"
	"github.com/godocker/god/plugins/auth/ldap"
)

// The directory's layout.
const (
	BaseDN   = "dc=example,dc=org"
	PeopleDN = "ou=people," + BaseDN
	GroupsDN = "ou=groups," + BaseDN
	RootDN   = "cn=admin," + BaseDN
	// ServiceDN is the read-only service account the authenticator binds as.
	ServiceDN = "cn=god-service,ou=services," + BaseDN
)

// User is a posixAccount (and inetOrgPerson) entry.
type User struct {
	Login    string
	Password string
	UID, GID int
	Home     string
	Email    string
	// DN defaults to uid=<Login>,ou=people,dc=example,dc=org.
	DN string
	// Extra attributes of the entry, for example employeeNumber.
	Extra map[string][]string
}

// Group is a posixGroup with memberUid values, or, when GID is 0, a
// groupOfNames with the members' DNs.
type Group struct {
	Name    string
	GID     int
	Members []string // logins
}

// The users every server starts with; each has a primary group of their own
// name and GID.
var (
	Alice = User{Login: "ldap-alice", Password: "alice-pw", UID: 24001, GID: 24001,
		Home: "/home/ldap-alice", Email: "ldap-alice@example.org"}
	Bob = User{Login: "ldap-bob", Password: "bob-pw", UID: 24002, GID: 24002,
		Home: "/home/ldap-bob", Email: "ldap-bob@example.org"}
	Carol = User{Login: "ldap-carol", Password: "carol-pw", UID: 24003, GID: 24003,
		Home: "/home/ldap-carol", Email: "ldap-carol@example.org"}
)

// The groups every server starts with, besides each user's primary group:
// Alice is in ldap-lab (24100) and in ldap-web (a groupOfNames, no GID),
// Carol in god-admins (24200); Bob only in his own.
var (
	Lab    = Group{Name: "ldap-lab", GID: 24100, Members: []string{Alice.Login}}
	Admins = Group{Name: "god-admins", GID: 24200, Members: []string{Carol.Login}}
	Web    = Group{Name: "ldap-web", Members: []string{Alice.Login}}
)

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:port (StartTLS works on it); LDAPSURL is
	// ldaps://127.0.0.1:port.
	URL      string
	LDAPSURL string
	// CACertPath is the PEM file of the authority that signed the server's
	// certificate (for 127.0.0.1 and localhost).
	CACertPath string
	// BindDN and BindPassword are the read-only service account.
	BindDN       string
	BindPassword string
	// RootDN and RootPassword may write anything.
	RootDN       string
	RootPassword string
	BaseDN       string

	tools tools
	dir   string
	cmd   *exec.Cmd
	exit  chan struct{} // closed when slapd has exited
	log   *testlog.Buffer

	syncSeq atomic.Int64

	mu    sync.Mutex
	users map[string]User
}

type tools struct{ slapd, slapadd, slappasswd string }

// Start runs a slapd loaded with Alice, Bob, Carol and their groups, and
// stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	tl, err := findTools()
	if err != nil {
		unavailable(t, err.Error())
	}
	dir := t.TempDir()
	s := &Server{
		BindDN:       ServiceDN,
		BindPassword: "service-pw",
		RootDN:       RootDN,
		RootPassword: "root-pw",
		BaseDN:       BaseDN,
		tools:        tl,
		dir:          dir,
		users:        map[string]User{},
	}
	if err := s.writeCerts(); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	if err := s.load(); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	// Another process may take a free port between its discovery and
	// slapd's bind: try again on new ports.
	for attempt := 1; ; attempt++ {
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("ldaptest: %v\nslapd output:\n%s", err, s.log.String())
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("slapd output (last 4 KiB):\n%s", tail(s.log.String(), 4096))
		}
		s.stop()
	})
	return s
}

// Config is an authenticator configuration for this server over plain
// ldap:// with the service account; tests change the fields they exercise.
func (s *Server) Config() ldap.Config {
	return ldap.Config{
		URLs:         []string{s.URL},
		BindDN:       s.BindDN,
		BindPassword: s.BindPassword,
		BaseDN:       s.BaseDN,
		CACert:       s.CACertPath,
	}
}

// User returns a user known to the server by login.
func (s *Server) User(login string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[login]
	return u, ok
}

// Users returns every user added to the server, sorted by login.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Login < out[j].Login })
	return out
}

// AddUser adds a user entry to the running server (as the root DN). Its
// primary group is not created: add one with AddGroup if the test needs it.
// Two users may share a login if their DNs differ.
func (s *Server) AddUser(t testing.TB, u User) User {
	t.Helper()
	e, err := s.userEntry(&u)
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	if err := s.add(e); err != nil {
		t.Fatalf("ldaptest: adding %s: %v", e.dn, err)
	}
	s.mu.Lock()
	s.users[u.Login] = u
	s.mu.Unlock()
	return u
}

// AddGroup adds a group entry to the running server.
func (s *Server) AddGroup(t testing.TB, g Group) {
	t.Helper()
	e := s.groupEntry(g)
	if err := s.add(e); err != nil {
		t.Fatalf("ldaptest: adding %s: %v", e.dn, err)
	}
}

// Log is what slapd printed (connections and operations: debug level
// "stats") up to now: every operation answered before the call is in it.
func (s *Server) Log() string {
	s.syncLog()
	return s.log.String()
}

// Binds counts the bind requests slapd received for dn so far.
func (s *Server) Binds(dn string) int {
	return strings.Count(s.Log(), fmt.Sprintf(" BIND dn=%q method=", dn))
}

// syncLog waits until slapd's output, which reaches us through a pipe, has
// caught up with now: it sends a compare request with a unique DN (logged as
// a CMP line, so that counts of binds and searches stay exact) and waits
// for that line. slapd logs each request before answering it, and the pipe
// keeps the order.
func (s *Server) syncLog() {
	if s.cmd == nil {
		return
	}
	marker := fmt.Sprintf("cn=ldaptest-sync-%d,%s", s.syncSeq.Add(1), BaseDN)
	c, err := goldap.DialURL(s.URL, goldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return // slapd is gone: its log is complete
	}
	c.SetTimeout(5 * time.Second)
	_, _ = c.Compare(marker, "cn", "x") // no such object: only the log line matters
	c.Close()
	want := fmt.Sprintf("CMP dn=%q", marker)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(s.log.String(), want) {
			return
		}
	}
}

// UserDN is the DN a user gets when User.DN is empty.
func UserDN(login string) string { return "uid=" + escapeRDN(login) + "," + PeopleDN }

// entry is a DN and its attributes, written as LDIF for slapadd or sent as
// an add request to the running server.
type entry struct {
	dn    string
	attrs [][2]any // name, []string
}

func (e *entry) set(name string, vals ...string) { e.attrs = append(e.attrs, [2]any{name, vals}) }

func (e *entry) ldif(b *bytes.Buffer) {
	// Base64 for every value: no LDIF escaping rule to get wrong.
	fmt.Fprintf(b, "dn:: %s\n", base64.StdEncoding.EncodeToString([]byte(e.dn)))
	for _, a := range e.attrs {
		for _, v := range a[1].([]string) {
			fmt.Fprintf(b, "%s:: %s\n", a[0], base64.StdEncoding.EncodeToString([]byte(v)))
		}
	}
	b.WriteString("\n")
}

func (s *Server) userEntry(u *User) (*entry, error) {
	if u.Login == "" || u.UID == 0 || u.GID == 0 {
		return nil, fmt.Errorf("user %+v: Login, UID and GID are required", u.Login)
	}
	if u.DN == "" {
		u.DN = UserDN(u.Login)
	}
	if u.Home == "" {
		u.Home = "/home/" + u.Login
	}
	e := &entry{dn: u.DN}
	e.set("objectClass", "inetOrgPerson", "posixAccount")
	e.set("uid", u.Login)
	e.set("cn", u.Login)
	e.set("sn", u.Login)
	e.set("uidNumber", strconv.Itoa(u.UID))
	e.set("gidNumber", strconv.Itoa(u.GID))
	e.set("homeDirectory", u.Home)
	if u.Email != "" {
		e.set("mail", u.Email)
	}
	if u.Password != "" {
		hash, err := s.hash(u.Password)
		if err != nil {
			return nil, err
		}
		e.set("userPassword", hash)
	}
	keys := make([]string, 0, len(u.Extra))
	for k := range u.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.set(k, u.Extra[k]...)
	}
	return e, nil
}

func (s *Server) groupEntry(g Group) *entry {
	e := &entry{dn: "cn=" + escapeRDN(g.Name) + "," + GroupsDN}
	e.set("cn", g.Name)
	if g.GID == 0 {
		e.set("objectClass", "groupOfNames")
		var dns []string
		for _, m := range g.Members {
			dn := UserDN(m)
			if u, ok := s.User(m); ok {
				dn = u.DN
			}
			dns = append(dns, dn)
		}
		e.set("member", dns...)
		return e
	}
	e.set("objectClass", "posixGroup")
	e.set("gidNumber", strconv.Itoa(g.GID))
	if len(g.Members) > 0 {
		e.set("memberUid", g.Members...)
	}
	return e
}

// hash returns password as slappasswd hashes it ({SSHA}).
func (s *Server) hash(password string) (string, error) {
	out, err := exec.Command(s.tools.slappasswd, "-h", "{SSHA}", "-s", password).Output()
	if err != nil {
		return "", fmt.Errorf("slappasswd: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// load writes slapd.conf and the initial LDIF, and slapadds it.
func (s *Server) load() error {
	if err := os.Mkdir(filepath.Join(s.dir, "db"), 0o700); err != nil {
		return err
	}
	rootHash, err := s.hash(s.RootPassword)
	if err != nil {
		return err
	}
	var modules string
	for _, d := range []string{"/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap"} {
		if _, err := os.Stat(filepath.Join(d, "back_mdb.la")); err == nil {
			modules = fmt.Sprintf("modulepath %s\nmoduleload back_mdb\n", d)
			break
		}
	}
	schema := "/etc/ldap/schema"
	if _, err := os.Stat(schema); err != nil {
		schema = "/etc/openldap/schema"
	}
	conf := fmt.Sprintf(`# Written by ldaptest for one test.
include %[1]s/core.schema
include %[1]s/cosine.schema
include %[1]s/nis.schema
include %[1]s/inetorgperson.schema
pidfile %[2]s/slapd.pid
argsfile %[2]s/slapd.args
%[3]s
TLSCACertificateFile %[2]s/ca.pem
TLSCertificateFile %[2]s/server.pem
TLSCertificateKeyFile %[2]s/server.key
# Unauthenticated binds (a DN, no password) succeed, as on Active Directory.
allow bind_anon_dn

database mdb
maxsize 67108864
suffix %[4]q
rootdn %[5]q
rootpw %[6]s
directory %[2]s/db
index objectClass eq
index uid,memberUid,member eq

access to attrs=userPassword
	by anonymous auth
	by * none
access to *
	by * read
`, schema, s.dir, modules, BaseDN, RootDN, rootHash)
	if err := os.WriteFile(s.confPath(), []byte(conf), 0o600); err != nil {
		return err
	}

	var b bytes.Buffer
	base := &entry{dn: BaseDN}
	base.set("objectClass", "dcObject", "organization")
	base.set("dc", "example")
	base.set("o", "GoDocker tests")
	base.ldif(&b)
	for _, ou := range []string{"people", "groups", "services"} {
		e := &entry{dn: "ou=" + ou + "," + BaseDN}
		e.set("objectClass", "organizationalUnit")
		e.set("ou", ou)
		e.ldif(&b)
	}
	serviceHash, err := s.hash(s.BindPassword)
	if err != nil {
		return err
	}
	svc := &entry{dn: ServiceDN}
	svc.set("objectClass", "organizationalRole", "simpleSecurityObject")
	svc.set("cn", "god-service")
	svc.set("userPassword", serviceHash)
	svc.ldif(&b)
	for _, u := range []User{Alice, Bob, Carol} {
		e, err := s.userEntry(&u)
		if err != nil {
			return err
		}
		e.ldif(&b)
		s.users[u.Login] = u
		s.groupEntry(Group{Name: u.Login, GID: u.GID}).ldif(&b)
	}
	for _, g := range []Group{Lab, Admins, Web} {
		s.groupEntry(g).ldif(&b)
	}
	ldifPath := filepath.Join(s.dir, "init.ldif")
	if err := os.WriteFile(ldifPath, b.Bytes(), 0o600); err != nil {
		return err
	}
	out, err := exec.Command(s.tools.slapadd, "-q", "-f", s.confPath(), "-l", ldifPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("slapadd: %v\n%s", err, out)
	}
	return nil
}

func (s *Server) confPath() string { return filepath.Join(s.dir, "slapd.conf") }

// start runs slapd on two free ports and waits until it answers.
func (s *Server) start() error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", ports[0])
	s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", ports[1])
	s.log = &testlog.Buffer{}
	// -d stats: stay in the foreground and log every operation to stderr.
	cmd := exec.Command(s.tools.slapd, "-f", s.confPath(), "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "256")
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting slapd: %w", err)
	}
	s.cmd = cmd
	s.exit = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.exit) }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.exit:
			return fmt.Errorf("slapd exited at start-up: %v", cmd.ProcessState)
		default:
		}
		if err := s.ping(); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("slapd did not answer on %s within 15s: %v", s.URL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ping reads the base entry over ldap://.
func (s *Server) ping() error {
	c, err := goldap.DialURL(s.URL, goldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(2 * time.Second)
	_, err = c.Search(goldap.NewSearchRequest(BaseDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, 2, false, "(objectClass=*)", []string{"1.1"}, nil))
	return err
}

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exit
	}
}

// add writes e to the running server as the root DN.
func (s *Server) add(e *entry) error {
	c, err := goldap.DialURL(s.URL, goldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(s.RootDN, s.RootPassword); err != nil {
		return err
	}
	req := goldap.NewAddRequest(e.dn, nil)
	for _, a := range e.attrs {
		req.Attribute(a[0].(string), a[1].([]string))
	}
	return c.Add(req)
}

func findTools() (tools, error) {
	find := func(name string) (string, error) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		for _, d := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec"} {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("%s not found (install the Debian packages slapd and ldap-utils: scripts/testenv-ldap.sh)", name)
	}
	var t tools
	var errs []error
	var err error
	t.slapd, err = find("slapd")
	errs = append(errs, err)
	t.slapadd, err = find("slapadd")
	errs = append(errs, err)
	t.slappasswd, err = find("slappasswd")
	errs = append(errs, err)
	return t, errors.Join(errs...)
}

// unavailable skips the test with a reason, except in CI, which installs
// slapd and so must not skip.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the LDAP tests: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), msg)
	t.Skipf("skipping: %s", msg)
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// escapeRDN escapes an attribute value for a DN (RFC 4514).
func escapeRDN(v string) string {
	var b strings.Builder
	for i, r := range v {
		switch {
		case strings.ContainsRune(`,+"\<>;=`, r), r == '#' && i == 0, r == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0:
			b.WriteString(`\00`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
