// Package auth defines how GoDocker learns who a remote user is. An
// Authenticator checks credentials and looks users up in a directory (the
// system user database, LDAP); an OIDC provider admits guests. The agent owns
// everything after that: tokens, API keys, admins, projects and volumes.
//
// Optional interfaces let a site's plugin refine what the agent decides from
// its configuration: the volumes a user may mount (VolumeResolver), quota and
// priority defaults (Defaulter) and a last veto before a job runs (Vetoer).
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadCredentials is returned for a wrong password and for an unknown
// login alike, so that a caller cannot probe which logins exist.
var ErrBadCredentials = errors.New("invalid login or password")

// ErrUnknownUser is returned by Lookup when the directory has no such login.
var ErrUnknownUser = errors.New("no such user")

// Identity is a user as a directory knows them: who a job runs as.
type Identity struct {
	// Login is the name the user logs in with; unique in the directory.
	Login string
	// UID, GID and Groups are the numeric identity the container runs as.
	UID    int
	GID    int
	Groups []int
	// GroupNames are the user's group names (for admin groups and volume
	// ACLs); they include the primary group when the directory knows it.
	GroupNames []string
	Home       string
	Email      string
}

// Authenticator checks passwords and finds users in one directory.
type Authenticator interface {
	// Name is the method's name in the configuration ("local", "ldap").
	Name() string
	// Authenticate checks login and password and returns the user. A wrong
	// password or an unknown login is ErrBadCredentials; a directory that
	// cannot be reached is another error (the caller may try again later).
	Authenticate(ctx context.Context, login, password string) (*Identity, error)
	// Lookup returns the user named login without credentials (API key
	// logins, admin commands), or ErrUnknownUser.
	Lookup(ctx context.Context, login string) (*Identity, error)
}

// Volume is a host path resolved for one job.
type Volume struct {
	Name     string
	Source   string
	Target   string
	ReadOnly bool
}

// VolumeResolver may be implemented by an Authenticator that decides itself
// which volumes a user may mount (the security boundary of Go-Docker's
// get_volumes). Without it, the agent resolves volumes from its `volume`
// blocks and their ACLs. requested names the volumes the job asks for; the
// result must contain one entry per name or an error naming the refused one.
type VolumeResolver interface {
	ResolveVolumes(ctx context.Context, who *Identity, requested []string, root bool) ([]Volume, error)
}

// Defaults are what a directory says about a user before an admin changes
// it: a priority from 0 to 100 (nil: the site default) and quotas.
type Defaults struct {
	Priority *int
}

// Defaulter may be implemented by an Authenticator to give new users their
// priority (for example from an LDAP attribute).
type Defaulter interface {
	Defaults(ctx context.Context, who *Identity) (Defaults, error)
}

// Vetoer may be implemented by an Authenticator to refuse, at the last
// moment before a job runs, a user the directory no longer allows (an
// account locked since submission). The job stays pending with the reason.
type Vetoer interface {
	CanRun(ctx context.Context, who *Identity) error
}

// MaxLoginLength bounds a login name, in bytes.
const MaxLoginLength = 256

// CheckLogin refuses what no login looks like, before a directory, PAM or
// a log sees it: empty, longer than MaxLoginLength, not UTF-8, or with a
// control character (NUL included). Methods add their own rules (spaces).
func CheckLogin(login string) error {
	switch {
	case login == "":
		return errors.New("empty login")
	case len(login) > MaxLoginLength:
		return fmt.Errorf("login longer than %d bytes", MaxLoginLength)
	case !utf8.ValidString(login):
		return errors.New("login is not valid UTF-8")
	case strings.IndexFunc(login, unicode.IsControl) >= 0:
		return errors.New("login contains a control character")
	}
	return nil
}
