package ldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/godocker/god/plugins/auth"
)

// Defaults of the configuration, for OpenLDAP with the RFC 2307 (nis) schema.
const (
	DefaultUserFilter     = "(&(objectClass=posixAccount)(uid={login}))"
	DefaultGroupFilter    = "(|(&(objectClass=posixGroup)(|(memberUid={login})(gidNumber={gid})))(&(objectClass=groupOfNames)(member={dn})))"
	DefaultDialTimeout    = 5 * time.Second
	DefaultRequestTimeout = 10 * time.Second

	// MaxLoginLength bounds a login name in bytes: longer ones are refused
	// before the directory is asked.
	MaxLoginLength = auth.MaxLoginLength
)

// Config of the LDAP authenticator. Zero fields take the defaults above.
// Error messages name the fields as the agent's `auth "ldap"` block does
// (snake case: urls, bind_dn, uid_attribute, ...).
type Config struct {
	// URLs of the directory servers, tried in order until one answers:
	// ldap://host[:389] or ldaps://host[:636].
	URLs []string
	// StartTLS upgrades ldap:// connections to TLS before anything is sent.
	StartTLS bool
	// CACert is a PEM file of the certificate authorities to trust for
	// ldaps:// and StartTLS; empty means the system's roots.
	CACert string
	// TLSServerName is the name to verify in the server's certificate;
	// empty means the host of each URL.
	TLSServerName string
	// InsecureSkipVerify accepts any server certificate (tests only: the
	// service password and users' passwords can then be intercepted).
	InsecureSkipVerify bool

	// BindDN and BindPassword are the service account that searches for
	// users and groups; empty means anonymous searches. BindPasswordFile,
	// instead of BindPassword, names a file holding the password (one
	// trailing newline is ignored), so the configuration can be readable.
	BindDN           string
	BindPassword     string
	BindPasswordFile string

	// BaseDN is where users are searched (whole subtree).
	BaseDN string
	// UserFilter finds one user; {login} is replaced by the escaped login.
	UserFilter string
	// Attributes names the user's attributes.
	Attributes Attributes

	// GroupBaseDN is where groups are searched; empty means BaseDN.
	GroupBaseDN string
	// GroupFilter finds the user's groups. Placeholders: {login} (the login
	// attribute's value), {dn} (the user's DN), both escaped, and {gid} (the
	// user's gidNumber, so that the primary group is found too).
	GroupFilter string
	// GroupNameAttribute and GroupGIDAttribute name the group's attributes
	// (defaults cn and gidNumber). Groups without a gid (groupOfNames, most
	// Active Directory groups) count by name only.
	GroupNameAttribute string
	GroupGIDAttribute  string

	// PriorityAttribute, if set, names a user attribute holding an integer
	// from 0 to 100: the priority a new user gets (auth.Defaulter).
	PriorityAttribute string

	// DialTimeout bounds connecting (and the TLS handshake) to one server;
	// RequestTimeout bounds each LDAP operation.
	DialTimeout    time.Duration
	RequestTimeout time.Duration
}

// Attributes maps the identity's fields to LDAP attribute names.
type Attributes struct {
	Login string // default uid (Active Directory: sAMAccountName)
	UID   string // default uidNumber
	GID   string // default gidNumber
	Home  string // default homeDirectory
	Email string // default mail
}

// withDefaults returns cfg with every empty field set to its default.
func (cfg Config) withDefaults() Config {
	set := func(v *string, def string) {
		if strings.TrimSpace(*v) == "" {
			*v = def
		}
	}
	set(&cfg.UserFilter, DefaultUserFilter)
	set(&cfg.GroupFilter, DefaultGroupFilter)
	set(&cfg.GroupBaseDN, cfg.BaseDN)
	set(&cfg.GroupNameAttribute, "cn")
	set(&cfg.GroupGIDAttribute, "gidNumber")
	set(&cfg.Attributes.Login, "uid")
	set(&cfg.Attributes.UID, "uidNumber")
	set(&cfg.Attributes.GID, "gidNumber")
	set(&cfg.Attributes.Home, "homeDirectory")
	set(&cfg.Attributes.Email, "mail")
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	return cfg
}

// validate checks a configuration with its defaults set; every error names
// the field to fix.
func (cfg Config) validate() error {
	var errs []error
	if len(cfg.URLs) == 0 {
		errs = append(errs, errors.New("urls: at least one directory URL is required (ldap://host or ldaps://host)"))
	}
	for _, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("urls: %q: %v", raw, err))
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			errs = append(errs, fmt.Errorf("urls: %q: the scheme must be ldap:// or ldaps://", raw))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("urls: %q: no host", raw))
		case u.Scheme == "ldaps" && cfg.StartTLS:
			errs = append(errs, fmt.Errorf("urls: %q: start_tls applies to ldap:// URLs; ldaps:// is TLS already", raw))
		}
	}
	if strings.TrimSpace(cfg.BaseDN) == "" {
		errs = append(errs, errors.New("base_dn: required (for example dc=example,dc=org)"))
	} else if _, err := goldap.ParseDN(cfg.BaseDN); err != nil {
		errs = append(errs, fmt.Errorf("base_dn %q: %v", cfg.BaseDN, err))
	}
	if _, err := goldap.ParseDN(cfg.GroupBaseDN); err != nil {
		errs = append(errs, fmt.Errorf("group_base_dn %q: %v", cfg.GroupBaseDN, err))
	}
	if cfg.BindDN == "" && cfg.BindPassword != "" {
		errs = append(errs, errors.New("bind_password is set but bind_dn is empty"))
	}
	if cfg.BindDN != "" && cfg.BindPassword == "" {
		// An empty password makes a simple bind unauthenticated: it would
		// succeed as anonymous on servers that allow it and hide the mistake.
		errs = append(errs, errors.New("bind_dn is set but bind_password is empty; set both, or neither for anonymous searches"))
	}
	if !strings.Contains(cfg.UserFilter, "{login}") {
		errs = append(errs, fmt.Errorf("user_filter %q: must contain the {login} placeholder", cfg.UserFilter))
	} else if _, err := goldap.CompileFilter(expand(cfg.UserFilter, "x", "", 0)); err != nil {
		errs = append(errs, fmt.Errorf("user_filter %q: %v", cfg.UserFilter, err))
	}
	if _, err := goldap.CompileFilter(expand(cfg.GroupFilter, "x", "cn=x", 1)); err != nil {
		errs = append(errs, fmt.Errorf("group_filter %q: %v", cfg.GroupFilter, err))
	}
	if cfg.CACert != "" {
		if _, err := loadCA(cfg.CACert); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// expand fills a filter template. Each value is escaped (RFC 4515) before it
// goes in, and the replacement is one pass, so a value can neither close the
// filter's parentheses nor bring in another placeholder.
func expand(template, login, dn string, gid int) string {
	return strings.NewReplacer(
		"{login}", goldap.EscapeFilter(login),
		"{dn}", goldap.EscapeFilter(dn),
		"{gid}", fmt.Sprint(gid),
	).Replace(template)
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca_cert: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_cert %s: no PEM certificate in the file", path)
	}
	return pool, nil
}

// tlsConfig returns the TLS settings for one server, host being its name
// (StartTLS needs ServerName set: only tls.Dial infers it).
func (cfg Config) tlsConfig(roots *x509.CertPool, host string) *tls.Config {
	name := cfg.TLSServerName
	if name == "" {
		name = host
	}
	return &tls.Config{
		RootCAs:            roots,
		ServerName:         name,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // opt-in, logged as a warning
	}
}
