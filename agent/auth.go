package agent

import (
	"fmt"
	"os/user"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/plugins/auth"
	"github.com/godocker/god/plugins/auth/ldap"
	"github.com/godocker/god/plugins/auth/oidc"
	"github.com/godocker/god/plugins/auth/pam"
)

// ldapBlock is the body of `auth "ldap" { ... }`.
type ldapBlock struct {
	URLs               []string `hcl:"urls,optional"`
	URL                string   `hcl:"url,optional"`
	StartTLS           bool     `hcl:"start_tls,optional"`
	CACert             string   `hcl:"ca_cert,optional"`
	TLSServerName      string   `hcl:"tls_server_name,optional"`
	InsecureSkipVerify bool     `hcl:"insecure_skip_verify,optional"`
	BindDN             string   `hcl:"bind_dn,optional"`
	BindPassword       string   `hcl:"bind_password,optional"`
	BindPasswordFile   string   `hcl:"bind_password_file,optional"`
	BaseDN             string   `hcl:"base_dn,optional"`
	UserFilter         string   `hcl:"user_filter,optional"`
	LoginAttribute     string   `hcl:"login_attribute,optional"`
	UIDAttribute       string   `hcl:"uid_attribute,optional"`
	GIDAttribute       string   `hcl:"gid_attribute,optional"`
	HomeAttribute      string   `hcl:"home_attribute,optional"`
	EmailAttribute     string   `hcl:"email_attribute,optional"`
	GroupBaseDN        string   `hcl:"group_base_dn,optional"`
	GroupFilter        string   `hcl:"group_filter,optional"`
	GroupNameAttribute string   `hcl:"group_name_attribute,optional"`
	GroupGIDAttribute  string   `hcl:"group_gid_attribute,optional"`
	PriorityAttribute  string   `hcl:"priority_attribute,optional"`
	DialTimeout        string   `hcl:"dial_timeout,optional"`
	RequestTimeout     string   `hcl:"request_timeout,optional"`
}

// oidcBlock is the body of `auth "oidc" { ... }`.
type oidcBlock struct {
	Issuer               string   `hcl:"issuer"`
	ClientID             string   `hcl:"client_id"`
	ClientSecret         string   `hcl:"client_secret,optional"`
	Scopes               []string `hcl:"scopes,optional"`
	AllowedDomains       []string `hcl:"allowed_domains,optional"`
	RequireVerifiedEmail *bool    `hcl:"require_verified_email,optional"`
}

// buildAuthenticators makes the password and key login methods of the
// config's auth blocks, in order, and reads the guest settings.
func buildAuthenticators(cfg *config.Config, log hclog.Logger) ([]auth.Authenticator, error) {
	var out []auth.Authenticator
	for _, b := range cfg.Auth {
		switch b.Method {
		case "local":
			out = append(out, localAuth{})
		case "ldap":
			var lb ldapBlock
			if diags := gohcl.DecodeBody(b.Body, nil, &lb); diags.HasErrors() {
				return nil, fmt.Errorf(`auth "ldap": %s`, diags.Error())
			}
			lc, err := lb.config()
			if err != nil {
				return nil, err
			}
			l, err := ldap.New(lc, log.Named("ldap"))
			if err != nil {
				return nil, err // names the block already
			}
			out = append(out, l)
		case "pam":
			var pb struct {
				Service string `hcl:"service,optional"`
			}
			if diags := gohcl.DecodeBody(b.Body, nil, &pb); diags.HasErrors() {
				return nil, fmt.Errorf(`auth "pam": %s`, diags.Error())
			}
			p, err := pam.New(pam.Config{Service: pb.Service}, log.Named("pam"))
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		case "oidc":
			// Built by guestConfig: guests log in through a browser.
		default:
			return nil, fmt.Errorf("auth %q is not a login method", b.Method)
		}
	}
	return out, nil
}

func (lb *ldapBlock) config() (ldap.Config, error) {
	c := ldap.Config{
		URLs: lb.URLs, StartTLS: lb.StartTLS, CACert: lb.CACert, TLSServerName: lb.TLSServerName,
		InsecureSkipVerify: lb.InsecureSkipVerify, BindDN: lb.BindDN, BindPassword: lb.BindPassword,
		BindPasswordFile: lb.BindPasswordFile, BaseDN: lb.BaseDN, UserFilter: lb.UserFilter,
		Attributes:  ldap.Attributes{Login: lb.LoginAttribute, UID: lb.UIDAttribute, GID: lb.GIDAttribute, Home: lb.HomeAttribute, Email: lb.EmailAttribute},
		GroupBaseDN: lb.GroupBaseDN, GroupFilter: lb.GroupFilter, GroupNameAttribute: lb.GroupNameAttribute,
		GroupGIDAttribute: lb.GroupGIDAttribute, PriorityAttribute: lb.PriorityAttribute,
	}
	if lb.URL != "" {
		c.URLs = append([]string{lb.URL}, c.URLs...)
	}
	for name, d := range map[string]struct {
		s   string
		dst *time.Duration
	}{"dial_timeout": {lb.DialTimeout, &c.DialTimeout}, "request_timeout": {lb.RequestTimeout, &c.RequestTimeout}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v <= 0 {
			return c, fmt.Errorf(`auth "ldap": %s must be a duration such as "5s", got %q`, name, d.s)
		}
		*d.dst = v
	}
	return c, nil
}

// guestSettings are the resolved guests block and OIDC provider settings.
type guestSettings struct {
	oidc      oidc.Config
	uid, gid  int
	homeRoot  string
	allowRoot bool
}

// guestConfig reads the oidc block and the guests block, or returns nil
// when guests are not enabled.
func guestConfig(cfg *config.Config) (*guestSettings, error) {
	for _, b := range cfg.Auth {
		if b.Method != "oidc" {
			continue
		}
		var ob oidcBlock
		if diags := gohcl.DecodeBody(b.Body, nil, &ob); diags.HasErrors() {
			return nil, fmt.Errorf(`auth "oidc": %s`, diags.Error())
		}
		u, err := user.Lookup(cfg.Guests.User)
		if err != nil {
			return nil, fmt.Errorf("guests.user: no system user %q: create it (useradd -r %s) or name another", cfg.Guests.User, cfg.Guests.User)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if uid == 0 || gid == 0 {
			return nil, fmt.Errorf("guests.user %q is root or in group root: guests must run as an unprivileged user", cfg.Guests.User)
		}
		g := &guestSettings{
			oidc: oidc.Config{
				Issuer: ob.Issuer, ClientID: ob.ClientID, ClientSecret: ob.ClientSecret,
				RedirectURL: publicURL(cfg) + "/v1/login/oidc/callback", Scopes: ob.Scopes,
				AllowedDomains: ob.AllowedDomains, RequireVerifiedEmail: ob.RequireVerifiedEmail == nil || *ob.RequireVerifiedEmail,
			},
			uid: uid, gid: gid, homeRoot: cfg.Guests.HomeRoot, allowRoot: cfg.Guests.AllowRoot && cfg.AllowRoot,
		}
		return g, nil
	}
	return nil, nil
}

// publicURL is where users reach the API.
func publicURL(cfg *config.Config) string {
	if cfg.HTTP.PublicURL != "" {
		return cfg.HTTP.PublicURL
	}
	return fmt.Sprintf("%s://%s:%d", cfg.HTTP.Scheme(), cfg.HTTP.Address, cfg.HTTP.Port)
}
