//go:build pam

package pam

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/hashicorp/go-hclog"
	gopam "github.com/msteinert/pam/v2"

	"github.com/godocker/god/plugins/auth"
)

// Available reports whether this binary was built with PAM support (the
// `pam` build tag). It is true here.
const Available = true

// maxParallel bounds concurrent PAM transactions: each holds an OS thread
// for as long as its modules take (pam_unix sleeps about 2 s after a
// failure), and a flood of guesses must not take every thread.
const maxParallel = 4

// maxPrompts bounds how many times a stack may ask for the password in one
// transaction; a misconfigured stack could otherwise loop.
const maxPrompts = 4

// Authenticator implements auth.Authenticator with PAM for the password and
// the system user database for the identity. It is safe for concurrent use.
type Authenticator struct {
	cfg  Config
	log  hclog.Logger
	slot chan struct{}
}

var _ auth.Authenticator = (*Authenticator)(nil)

// New checks cfg (the service file must exist) and returns an
// authenticator. log may be nil.
func New(cfg Config, log hclog.Logger) (*Authenticator, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf(`auth "pam": %w`, err)
	}
	return &Authenticator{cfg: cfg, log: log, slot: make(chan struct{}, maxParallel)}, nil
}

// Name implements auth.Authenticator.
func (*Authenticator) Name() string { return "pam" }

// Authenticate checks login and password with the PAM service's auth and
// account stacks, then resolves the user in the system user database. A
// wrong password, an unknown login, an expired or locked account and uid 0
// are all auth.ErrBadCredentials. A broken PAM configuration or an
// unreachable directory behind it is another error.
func (a *Authenticator) Authenticate(ctx context.Context, login, password string) (*auth.Identity, error) {
	if err := validLogin(login); err != nil {
		return nil, fmt.Errorf("%w (%v)", auth.ErrBadCredentials, err)
	}
	if !validPassword(password) {
		return nil, auth.ErrBadCredentials
	}
	// Root is refused before PAM sees its password. An unknown login still
	// goes through PAM, so that it costs the same time as a wrong password.
	switch _, err := lookupUser(login); {
	case errors.Is(err, errRoot):
		a.log.Warn("pam login refused: uid 0", "login", login)
		return nil, auth.ErrBadCredentials
	case err != nil && !errors.Is(err, auth.ErrUnknownUser):
		return nil, err
	}
	name, err := a.check(ctx, login, password)
	if err != nil {
		return nil, err
	}
	// A module may have mapped the login to the account's canonical name.
	if validLogin(name) != nil {
		name = login
	}
	id, err := lookupUser(name)
	switch {
	case errors.Is(err, auth.ErrUnknownUser):
		a.log.Warn("pam login refused: PAM accepted a login the system user database does not know", "login", name)
		return nil, auth.ErrBadCredentials
	case errors.Is(err, errRoot):
		a.log.Warn("pam login refused: uid 0", "login", name)
		return nil, auth.ErrBadCredentials
	case err != nil:
		return nil, err
	}
	return id, nil
}

// Lookup implements auth.Authenticator through the system user database,
// without PAM. uid 0 is auth.ErrUnknownUser.
func (a *Authenticator) Lookup(_ context.Context, login string) (*auth.Identity, error) {
	if err := validLogin(login); err != nil {
		return nil, fmt.Errorf("%w (%v)", auth.ErrUnknownUser, err)
	}
	id, err := lookupUser(login)
	if errors.Is(err, errRoot) {
		return nil, fmt.Errorf("%w (%v)", auth.ErrUnknownUser, err)
	}
	return id, err
}

// check runs one PAM transaction and returns the user name PAM settled on.
// PAM calls block in C and cannot be interrupted: when ctx ends first, the
// caller gets ctx's error and the transaction finishes on its own.
func (a *Authenticator) check(ctx context.Context, login, password string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	select {
	case a.slot <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	type result struct {
		name string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-a.slot }()
		// A transaction starts and ends on one thread: some modules keep
		// per-thread state.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		name, err := a.transaction(login, password)
		done <- result{name, err}
	}()
	select {
	case r := <-done:
		return r.name, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (a *Authenticator) transaction(login, password string) (string, error) {
	prompts := 0
	conv := gopam.ConversationFunc(func(style gopam.Style, msg string) (string, error) {
		switch style {
		case gopam.PromptEchoOff:
			if prompts++; prompts > maxPrompts {
				return "", errors.New("too many password prompts")
			}
			return password, nil
		case gopam.ErrorMsg, gopam.TextInfo:
			a.log.Debug("pam message", "login", login, "message", msg)
			return "", nil
		default:
			// A visible prompt wants something other than the one secret
			// we have (a one-time code, a new password).
			a.log.Warn("pam login refused: the PAM stack asks for more than a password", "service", a.cfg.Service, "prompt", msg)
			return "", errors.New("unsupported PAM prompt")
		}
	})
	var (
		t   *gopam.Transaction
		err error
	)
	if a.cfg.ConfDir != "" {
		t, err = gopam.StartConfDir(a.cfg.Service, login, conv, a.cfg.ConfDir)
	} else {
		t, err = gopam.Start(a.cfg.Service, login, conv)
	}
	if err != nil {
		return "", fmt.Errorf(`auth "pam": starting PAM service %q: %w`, a.cfg.Service, err)
	}
	defer t.End()
	const flags = gopam.Silent | gopam.DisallowNullAuthtok
	if err := t.Authenticate(flags); err != nil {
		return "", a.refusal(login, "authentication", err)
	}
	// The account stack refuses expired, locked or otherwise barred accounts.
	if err := t.AcctMgmt(flags); err != nil {
		return "", a.refusal(login, "account check", err)
	}
	name, err := t.GetItem(gopam.User)
	if err != nil || name == "" {
		name = login
	}
	return name, nil
}

// refusal maps a PAM error to auth.ErrBadCredentials when it is about the
// user, and to an error naming the service when PAM itself failed.
func (a *Authenticator) refusal(login, step string, err error) error {
	var code gopam.Error
	if errors.As(err, &code) {
		switch code {
		case gopam.ErrAuth, gopam.ErrUserUnknown, gopam.ErrCredInsufficient, gopam.ErrMaxtries,
			gopam.ErrPermDenied, gopam.ErrAcctExpired, gopam.ErrNewAuthtokReqd, gopam.ErrAuthtokExpired:
			a.log.Debug("pam login refused", "login", login, "step", step, "reason", code.Error())
			return auth.ErrBadCredentials
		}
	}
	a.log.Error("pam error", "service", a.cfg.Service, "login", login, "step", step, "error", err)
	return fmt.Errorf(`auth "pam": PAM service %q failed during %s: %w`, a.cfg.Service, step, err)
}
