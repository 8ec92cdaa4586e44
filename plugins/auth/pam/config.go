// Package pam authenticates local users' passwords through PAM (Linux-PAM),
// so that GoDocker accepts whatever the machine's own login accepts:
// /etc/shadow through pam_unix, or LDAP/Kerberos through pam_sss. The user is
// then resolved through the system user database (NSS): uid, gid,
// supplementary groups and home.
//
// PAM needs cgo and the PAM headers, so the authenticator is built only with
// the build tag `pam` (`go build -tags pam`, Debian package libpam0g-dev).
// Without the tag, Available is false and New returns ErrNotBuilt.
//
// The password only ever goes to the PAM conversation; it is never logged.
// uid 0 is always refused, before PAM sees its password, so that the agent
// cannot become a way to guess root's password.
package pam

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/godocker/god/plugins/auth"
)

// DefaultService is the PAM service used when Config.Service is empty: the
// site creates /etc/pam.d/god (see the documentation) so that GoDocker's
// policy can differ from the console's.
const DefaultService = "god"

// DefaultConfDir is where Linux-PAM reads service files.
const DefaultConfDir = "/etc/pam.d"

// MaxLoginLength bounds a login, in bytes.
const MaxLoginLength = auth.MaxLoginLength

// maxPasswordLength is PAM_MAX_RESP_SIZE (512) less the NUL: PAM modules
// cut longer answers there, so a longer password would pass for its prefix.
const maxPasswordLength = 511

// ErrNotBuilt is returned by New in a binary built without the `pam` tag.
var ErrNotBuilt = errors.New("this god binary was built without PAM support: build with -tags pam")

// Config configures the PAM authenticator.
type Config struct {
	// Service is the PAM service name, the file ConfDir/Service that holds
	// the auth and account stacks. Empty means DefaultService.
	Service string
	// ConfDir is the directory of PAM service files. Empty means the
	// system's (/etc/pam.d); tests point it to a temporary directory.
	ConfDir string
}

func (c Config) withDefaults() Config {
	if c.Service == "" {
		c.Service = DefaultService
	}
	return c
}

// validate checks the service name and that its file exists. Without the
// file, Linux-PAM would silently use the "other" service instead.
func (c Config) validate() error {
	if !validServiceName(c.Service) {
		return fmt.Errorf("service %q is not a PAM service name: use letters, digits, '.', '_' and '-' only, such as %q", c.Service, DefaultService)
	}
	dir := c.ConfDir
	if dir == "" {
		dir = DefaultConfDir
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil // no /etc/pam.d: PAM reads /etc/pam.conf instead
		}
	} else if !filepath.IsAbs(dir) {
		return fmt.Errorf("conf_dir %q must be an absolute path", dir)
	}
	file := filepath.Join(dir, c.Service)
	switch fi, err := os.Stat(file); {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("PAM service %q has no file %s: create it (auth and account lines, see the auth-pam documentation) or set service to an existing one", c.Service, file)
	case err != nil:
		return fmt.Errorf("PAM service %q: %v", c.Service, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("PAM service %q: %s is not a regular file", c.Service, file)
	}
	return nil
}

func validServiceName(s string) bool {
	if s == "" || len(s) > 255 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// validLogin refuses what no system login looks like before it reaches PAM
// or NSS: empty, too long, not UTF-8, or with a control character (NUL
// included: C would cut the string there) or a space anywhere.
func validLogin(login string) error {
	if err := auth.CheckLogin(login); err != nil {
		return err
	}
	if strings.IndexFunc(login, unicode.IsSpace) >= 0 {
		return errors.New("login contains a space")
	}
	return nil
}

// validPassword refuses, before PAM, passwords no module could have stored:
// empty (a null token some modules accept), longer than PAM passes on, or
// with a NUL (C would cut it there, so "secret\x00junk" would pass as
// "secret").
func validPassword(password string) bool {
	return password != "" && len(password) <= maxPasswordLength && !strings.ContainsRune(password, 0)
}
