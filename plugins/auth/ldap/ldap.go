// Package ldap authenticates GoDocker users against an LDAP directory
// (OpenLDAP, Active Directory, 389-ds). A service account (or an anonymous
// connection) searches for the user's entry with a configured filter; the
// password is then checked by binding as that entry on a separate connection,
// and the user's groups are read with a second filter.
//
// Logins only ever enter a filter escaped (RFC 4515), and an empty password
// is refused before any bind: LDAP treats a simple bind with a DN and no
// password as an unauthenticated bind, which many servers accept.
package ldap

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/plugins/auth"
)

// maxPasswordLength bounds what is sent to the server in a bind.
const maxPasswordLength = 4096

// Authenticator implements auth.Authenticator and auth.Defaulter on an LDAP
// directory. It is safe for concurrent use: every call opens its own
// connections and closes them before returning.
type Authenticator struct {
	cfg   Config
	roots *x509.CertPool // nil: the system's
	log   hclog.Logger
}

var (
	_ auth.Authenticator = (*Authenticator)(nil)
	_ auth.Defaulter     = (*Authenticator)(nil)
)

// New checks cfg and returns an authenticator; it does not connect (see
// Check). log may be nil.
func New(cfg Config, log hclog.Logger) (*Authenticator, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg = cfg.withDefaults()
	if cfg.BindPasswordFile != "" {
		if cfg.BindPassword != "" {
			return nil, errors.New(`auth "ldap": set bind_password or bind_password_file, not both`)
		}
		pw, err := os.ReadFile(cfg.BindPasswordFile)
		if err != nil {
			return nil, fmt.Errorf(`auth "ldap": bind_password_file: %v`, err)
		}
		cfg.BindPassword = strings.TrimSuffix(strings.TrimSuffix(string(pw), "\n"), "\r")
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("auth \"ldap\": %w", err)
	}
	a := &Authenticator{cfg: cfg, log: log}
	if cfg.CACert != "" {
		roots, err := loadCA(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("auth \"ldap\": %w", err)
		}
		a.roots = roots
	}
	if cfg.InsecureSkipVerify {
		log.Warn("LDAP TLS CERTIFICATES ARE NOT VERIFIED (insecure_skip_verify = true): anyone on the path can pose as the directory and read every password; set ca_cert instead")
	}
	for _, raw := range cfg.URLs {
		u, _ := url.Parse(raw)
		if u.Scheme == "ldap" && !cfg.StartTLS && !isLoopback(u.Hostname()) {
			log.Warn("LDAP passwords are sent in clear text; use ldaps:// or start_tls = true", "url", raw)
		}
	}
	return a, nil
}

// Name implements auth.Authenticator.
func (a *Authenticator) Name() string { return "ldap" }

// Authenticate implements auth.Authenticator: search the login's entry as
// the service account, then bind as that entry with password on another
// connection. A wrong password, an unknown login and a login matching several
// entries are all auth.ErrBadCredentials.
func (a *Authenticator) Authenticate(ctx context.Context, login, password string) (*auth.Identity, error) {
	if err := validLogin(login); err != nil {
		return nil, fmt.Errorf("%w (%v)", auth.ErrBadCredentials, err)
	}
	// Before any connection: an empty password would make the bind below
	// an unauthenticated one, which servers may accept for any DN.
	if password == "" || len(password) > maxPasswordLength {
		return nil, auth.ErrBadCredentials
	}
	s, err := a.serviceSession(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	entry, err := a.findUser(ctx, s, login)
	switch {
	case errors.Is(err, errNoEntry):
		a.log.Debug("ldap login refused: no such user", "login", login)
		return nil, auth.ErrBadCredentials
	case errors.Is(err, errAmbiguous):
		a.log.Warn("ldap login refused: the user filter matches several entries", "login", login, "error", err)
		return nil, auth.ErrBadCredentials
	case err != nil:
		return nil, err
	}
	if err := a.checkPassword(ctx, entry.DN, password); err != nil {
		if errors.Is(err, auth.ErrBadCredentials) {
			a.log.Debug("ldap login refused: wrong password", "login", login)
		}
		return nil, err
	}
	return a.identity(ctx, s, entry)
}

// Lookup implements auth.Authenticator: the same search as Authenticate,
// without a password.
func (a *Authenticator) Lookup(ctx context.Context, login string) (*auth.Identity, error) {
	if err := validLogin(login); err != nil {
		return nil, fmt.Errorf("%w (%v)", auth.ErrUnknownUser, err)
	}
	s, err := a.serviceSession(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	entry, err := a.findUser(ctx, s, login)
	if errors.Is(err, errNoEntry) {
		return nil, auth.ErrUnknownUser
	}
	if err != nil {
		return nil, err
	}
	return a.identity(ctx, s, entry)
}

// Defaults implements auth.Defaulter: the priority from PriorityAttribute,
// or no default when it is not configured or the entry has no value.
func (a *Authenticator) Defaults(ctx context.Context, who *auth.Identity) (auth.Defaults, error) {
	attr := a.cfg.PriorityAttribute
	if attr == "" {
		return auth.Defaults{}, nil
	}
	s, err := a.serviceSession(ctx)
	if err != nil {
		return auth.Defaults{}, err
	}
	defer s.Close()
	entry, err := a.findUser(ctx, s, who.Login)
	if errors.Is(err, errNoEntry) {
		return auth.Defaults{}, auth.ErrUnknownUser
	}
	if err != nil {
		return auth.Defaults{}, err
	}
	vals := entry.GetEqualFoldAttributeValues(attr)
	if len(vals) == 0 {
		return auth.Defaults{}, nil
	}
	p, err := strconv.Atoi(strings.TrimSpace(vals[0]))
	if err != nil || p < 0 || p > 100 || len(vals) > 1 {
		return auth.Defaults{}, fmt.Errorf("ldap: entry %q: priority attribute %s = %q: want one integer from 0 to 100 (priority_attribute)", entry.DN, attr, vals)
	}
	return auth.Defaults{Priority: &p}, nil
}

// Check connects as the service account and reads the base DN: a start-up
// test of the configuration that needs no user.
func (a *Authenticator) Check(ctx context.Context) error {
	s, err := a.serviceSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	req := goldap.NewSearchRequest(a.cfg.BaseDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, a.timeLimit(), false, "(objectClass=*)", []string{"1.1"}, nil)
	if _, err := s.conn.Search(req); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
			return fmt.Errorf("ldap: base_dn %q does not exist on %s (or the service account may not read it)", a.cfg.BaseDN, s.url)
		}
		return opError(ctx, s, "reading base_dn", err)
	}
	return nil
}

// serviceSession connects and binds as the service account (or stays
// anonymous without one).
func (a *Authenticator) serviceSession(ctx context.Context) (*session, error) {
	s, err := a.dial(ctx)
	if err != nil {
		return nil, err
	}
	if a.cfg.BindDN == "" {
		return s, nil
	}
	if _, err := s.conn.SimpleBind(goldap.NewSimpleBindRequest(a.cfg.BindDN, a.cfg.BindPassword, nil)); err != nil {
		s.Close()
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return nil, fmt.Errorf("ldap: %s refused the service account %q: invalid credentials; check bind_dn and bind_password", s.url, a.cfg.BindDN)
		}
		return nil, opError(ctx, s, fmt.Sprintf("binding as the service account %q", a.cfg.BindDN), err)
	}
	return s, nil
}

// checkPassword binds as dn on a connection of its own, closed at once.
func (a *Authenticator) checkPassword(ctx context.Context, dn, password string) error {
	s, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	req := goldap.NewSimpleBindRequest(dn, password, nil) // refuses an empty password itself too
	if _, err := s.conn.SimpleBind(req); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return auth.ErrBadCredentials
		}
		return opError(ctx, s, fmt.Sprintf("binding as %q", dn), err)
	}
	return nil
}

var (
	errNoEntry   = errors.New("ldap: no entry matches the user filter")
	errAmbiguous = errors.New("ldap: the user filter matches several entries")
)

// findUser returns the one entry the user filter matches for login.
func (a *Authenticator) findUser(ctx context.Context, s *session, login string) (*goldap.Entry, error) {
	attrs := []string{a.cfg.Attributes.Login, a.cfg.Attributes.UID, a.cfg.Attributes.GID, a.cfg.Attributes.Home, a.cfg.Attributes.Email}
	if a.cfg.PriorityAttribute != "" {
		attrs = append(attrs, a.cfg.PriorityAttribute)
	}
	filter := expand(a.cfg.UserFilter, login, "", 0)
	// Size limit 2: enough to tell one match from several.
	req := goldap.NewSearchRequest(a.cfg.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, a.timeLimit(), false, filter, attrs, nil)
	res, err := s.conn.Search(req)
	switch {
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded):
		return nil, fmt.Errorf("%w: filter %s under %s", errAmbiguous, filter, a.cfg.BaseDN)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("ldap: base_dn %q does not exist on %s", a.cfg.BaseDN, s.url)
	case err != nil:
		return nil, opError(ctx, s, "searching the user", err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, errNoEntry
	case 1:
		if res.Entries[0].DN == "" {
			return nil, fmt.Errorf("ldap: the user filter matched an entry without a DN on %s", s.url)
		}
		return res.Entries[0], nil
	default:
		return nil, fmt.Errorf("%w: filter %s under %s: %d entries", errAmbiguous, filter, a.cfg.BaseDN, len(res.Entries))
	}
}

// identity reads the user's fields and groups from their entry.
func (a *Authenticator) identity(ctx context.Context, s *session, e *goldap.Entry) (*auth.Identity, error) {
	at := a.cfg.Attributes
	login := e.GetEqualFoldAttributeValue(at.Login)
	if login == "" {
		return nil, fmt.Errorf("ldap: entry %q has no %s attribute (the login; login_attribute)", e.DN, at.Login)
	}
	uid, err := idAttr(e, at.UID, "uid_attribute")
	if err != nil {
		return nil, err
	}
	gid, err := idAttr(e, at.GID, "gid_attribute")
	if err != nil {
		return nil, err
	}
	id := &auth.Identity{
		Login: login,
		UID:   uid,
		GID:   gid,
		Home:  e.GetEqualFoldAttributeValue(at.Home),
		Email: e.GetEqualFoldAttributeValue(at.Email),
	}
	if err := a.readGroups(ctx, s, e.DN, id); err != nil {
		return nil, err
	}
	return id, nil
}

// readGroups fills id's supplementary group ids (the primary one left
// out, as in the system user database) and group names (primary included).
func (a *Authenticator) readGroups(ctx context.Context, s *session, dn string, id *auth.Identity) error {
	nameAttr, gidAttr := a.cfg.GroupNameAttribute, a.cfg.GroupGIDAttribute
	filter := expand(a.cfg.GroupFilter, id.Login, dn, id.GID)
	req := goldap.NewSearchRequest(a.cfg.GroupBaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, a.timeLimit(), false, filter, []string{nameAttr, gidAttr}, nil)
	res, err := s.conn.Search(req)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return fmt.Errorf("ldap: group_base_dn %q does not exist on %s", a.cfg.GroupBaseDN, s.url)
	}
	if err != nil {
		return opError(ctx, s, "searching the user's groups", err)
	}
	for _, g := range res.Entries {
		if name := g.GetEqualFoldAttributeValue(nameAttr); name != "" && !slices.Contains(id.GroupNames, name) {
			id.GroupNames = append(id.GroupNames, name)
		}
		if len(g.GetEqualFoldAttributeValues(gidAttr)) == 0 {
			continue // a group known by name only
		}
		n, err := idAttr(g, gidAttr, "group_gid_attribute")
		if err != nil {
			return err
		}
		if n != id.GID && !slices.Contains(id.Groups, n) {
			id.Groups = append(id.Groups, n)
		}
	}
	slices.Sort(id.GroupNames)
	slices.Sort(id.Groups)
	return nil
}

// idAttr reads a uid or gid: one decimal value from 1 to 2^31-1. Zero is
// refused: a directory entry must not make a job run as root.
func idAttr(e *goldap.Entry, attr, setting string) (int, error) {
	vals := e.GetEqualFoldAttributeValues(attr)
	if len(vals) == 0 {
		return 0, fmt.Errorf("ldap: entry %q has no %s attribute; add it, or name the attribute that holds the number with %s", e.DN, attr, setting)
	}
	if len(vals) > 1 {
		return 0, fmt.Errorf("ldap: entry %q has %d values of %s; want one", e.DN, len(vals), attr)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(vals[0]), 10, 32)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("ldap: entry %q: %s = %q is not a number from 1 to 2147483647", e.DN, attr, vals[0])
	}
	if n == 0 {
		return 0, fmt.Errorf("ldap: entry %q: %s = 0 (root) is refused; GoDocker runs no job as root for a directory user", e.DN, attr)
	}
	return int(n), nil
}

// validLogin refuses what no directory login looks like, before it reaches
// a filter: empty, too long, not UTF-8, or with control characters (NUL
// included). Escaping alone would make these harmless; refusing them keeps
// them out of searches and logs.
func validLogin(login string) error {
	if err := auth.CheckLogin(login); err != nil {
		return err
	}
	if strings.TrimSpace(login) != login {
		return errors.New("login starts or ends with a space")
	}
	return nil
}

// timeLimit is the server-side time limit of a search, in whole seconds.
func (a *Authenticator) timeLimit() int {
	return max(1, int(a.cfg.RequestTimeout.Seconds()))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
