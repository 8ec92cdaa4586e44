package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	agenthttp "github.com/godocker/god/agent/http"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/agent/token"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/auth"
	"github.com/godocker/god/plugins/auth/ldap"
	"github.com/godocker/god/store"
)

// defaultPriority is a user's or project's priority until an admin sets it.
const defaultPriority = 50

// storedAccount is a user as stored: the API view plus what is never shown.
type storedAccount struct {
	api.Account
	APIKeyHash string `json:"api_key_hash,omitempty"`
	// TokensValidAfter revokes every token issued before it (unix seconds):
	// set when an admin disables the user.
	TokensValidAfter int64 `json:"tokens_valid_after,omitempty"`

	version int64
}

// accountView is what the API shows of an account.
func (a *Agent) accountView(acc *storedAccount) *api.Account {
	out := acc.Account
	out.APIKeySet = acc.APIKeyHash != ""
	out.Admin = a.adminAccount(acc)
	out.Projects = a.memberOf(acc.Login)
	return &out
}

// accountCache keeps accounts read from the store for a few seconds: the
// Unix socket's hot path (every submit) must not read the store twice.
type accountCache struct {
	mu sync.Mutex
	m  map[string]cachedAccount
}

type cachedAccount struct {
	acc *storedAccount
	at  time.Time
}

const accountCacheTTL = 5 * time.Second

func (a *Agent) loadAccount(ctx context.Context, login string) (*storedAccount, error) {
	a.accts.mu.Lock()
	c, ok := a.accts.m[login]
	a.accts.mu.Unlock()
	if ok && time.Since(c.at) < accountCacheTTL {
		cp := *c.acc
		return &cp, nil
	}
	r, err := a.rec.GetRecord(ctx, store.KindUser, login)
	if err != nil {
		return nil, err
	}
	acc := &storedAccount{}
	if err := json.Unmarshal(r.Value, acc); err != nil {
		return nil, fmt.Errorf("account %s: %w", login, err)
	}
	acc.version = r.Version
	a.cacheAccount(acc)
	cp := *acc
	return &cp, nil
}

func (a *Agent) cacheAccount(acc *storedAccount) {
	cp := *acc
	a.accts.mu.Lock()
	a.accts.m[acc.Login] = cachedAccount{acc: &cp, at: time.Now()}
	a.accts.mu.Unlock()
}

// saveAccount writes acc if nobody changed it since it was read (store.ErrConflict otherwise).
func (a *Agent) saveAccount(ctx context.Context, acc *storedAccount) error {
	stored := *acc
	stored.Admin, stored.Projects, stored.APIKeySet = false, nil, false
	data, err := json.Marshal(&stored)
	if err != nil {
		return err
	}
	r := &store.Record{Kind: store.KindUser, Key: acc.Login, Value: data, Version: acc.version}
	if err := a.rec.PutRecord(ctx, r); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNoRecord) {
			a.accts.mu.Lock()
			delete(a.accts.m, acc.Login)
			a.accts.mu.Unlock()
		}
		return err
	}
	acc.version = r.Version
	a.cacheAccount(acc)
	return nil
}

// changeAccount applies fn to the stored account, retrying on concurrent
// changes.
func (a *Agent) changeAccount(ctx context.Context, login string, fn func(*storedAccount) error) (*storedAccount, error) {
	for {
		acc, err := a.loadAccount(ctx, login)
		if err != nil {
			return nil, err
		}
		if err := fn(acc); err != nil {
			return nil, err
		}
		err = a.saveAccount(ctx, acc)
		if !errors.Is(err, store.ErrConflict) {
			return acc, err
		}
	}
}

// upsertAccount makes sure the account of a directory user exists and
// matches what the directory says now. A login already taken by another
// kind of account with another uid is refused: one login, one person.
func (a *Agent) upsertAccount(ctx context.Context, kind string, u api.User, groups []string, email string) (*storedAccount, error) {
	for {
		acc, err := a.loadAccount(ctx, u.Name)
		if errors.Is(err, store.ErrNoRecord) {
			acc = &storedAccount{Account: api.Account{Login: u.Name, Kind: kind, User: u, Groups: groups, Email: email, Priority: defaultPriority, Active: true, Created: time.Now().UTC()}}
			err = a.saveAccount(ctx, acc)
			if errors.Is(err, store.ErrConflict) {
				continue // created concurrently: read it
			}
			return acc, err
		}
		if err != nil {
			return nil, err
		}
		if acc.Kind == api.AccountGuest || acc.User.UID != u.UID {
			return nil, errorf(http.StatusConflict, "login %s already belongs to a %s account running as uid %d, not %d; an admin must sort this out", u.Name, acc.Kind, acc.User.UID, u.UID)
		}
		if acc.Kind == kind && sameUser(acc.User, u) && slices.Equal(acc.Groups, groups) && (email == "" || acc.Email == email) {
			return acc, nil
		}
		acc.Kind, acc.User, acc.Groups = kind, u, groups
		if email != "" {
			acc.Email = email
		}
		err = a.saveAccount(ctx, acc)
		if !errors.Is(err, store.ErrConflict) {
			return acc, err
		}
	}
}

func sameUser(x, y api.User) bool {
	return x.Name == y.Name && x.UID == y.UID && x.GID == y.GID && x.Home == y.Home && slices.Equal(x.Groups, y.Groups)
}

// groupNames names a local user's groups through the system database.
func groupNames(u api.User) []string {
	var out []string
	for _, gid := range append([]int{u.GID}, u.Groups...) {
		if n := identity.GroupName(gid); n != "" {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// adminAccount: the site's admins by login or by group.
func (a *Agent) adminAccount(acc *storedAccount) bool {
	if acc.Kind != api.AccountGuest && acc.User.UID == 0 {
		return true
	}
	if slices.Contains(a.cfg.Admins, acc.Login) {
		return true
	}
	for _, g := range acc.Groups {
		if slices.Contains(a.cfg.AdminGroups, g) {
			return true
		}
	}
	return false
}

// Authenticate tells who sent a request: a token if there is one, else the
// kernel's identity of a Unix socket peer (or a loopback peer in dev mode).
func (a *Agent) Authenticate(ctx context.Context, c *agenthttp.Credentials) (*api.Caller, error) {
	if c.Forwarded != "" {
		if err := a.forwardedPeer(c); err != nil {
			return nil, err
		}
	}
	if c.Bearer != "" {
		return a.tokenCaller(ctx, c)
	}
	if c.Peer.Known && (c.Peer.Unix || a.cfg.Dev) {
		return a.kernelCaller(ctx, c)
	}
	if c.Peer.Unix {
		return nil, errorf(http.StatusUnauthorized, "cannot identify you on the Unix socket")
	}
	return nil, errorf(http.StatusUnauthorized, "authentication required: log in with `god login` (or set GOD_TOKEN), or use the agent's Unix socket on its host")
}

func (a *Agent) kernelCaller(ctx context.Context, c *agenthttp.Credentials) (*api.Caller, error) {
	u, err := a.users.Lookup(c.Peer.UID)
	if err != nil {
		return nil, &Error{Code: http.StatusForbidden, Msg: err.Error()}
	}
	acc, err := a.loadAccount(ctx, u.Name)
	if errors.Is(err, store.ErrNoRecord) || (err == nil && acc.Kind == api.AccountLocal && !sameUser(acc.User, u)) {
		acc, err = a.upsertAccount(ctx, api.AccountLocal, u, groupNames(u), "")
	}
	if err != nil {
		return nil, err
	}
	if acc.Kind == api.AccountGuest || acc.User.UID != u.UID {
		return nil, errorf(http.StatusForbidden, "the account %s does not run as your uid %d; an admin must sort this out", u.Name, u.UID)
	}
	if !acc.Active {
		return nil, errorf(http.StatusForbidden, "your account %s is disabled; ask an admin", acc.Login)
	}
	via := api.ViaUnix
	if !c.Peer.Unix {
		via = api.ViaLocal
	}
	// The kernel's view is fresher than the record for a local user.
	return &api.Caller{User: u, Login: acc.Login, Kind: acc.Kind, Admin: a.adminAccount(acc), Via: via, Address: c.Remote}, nil
}

func (a *Agent) tokenCaller(ctx context.Context, c *agenthttp.Credentials) (*api.Caller, error) {
	claims, err := a.signer.Verify(c.Bearer, time.Now())
	if err != nil {
		msg := "invalid token: log in again with `god login`"
		if errors.Is(err, token.ErrExpired) {
			msg = err.Error()
		}
		return nil, errorf(http.StatusUnauthorized, "%s", msg)
	}
	if _, err := a.rec.GetRecord(ctx, store.KindToken, claims.ID); err == nil {
		return nil, errorf(http.StatusUnauthorized, "token revoked: log in again with `god login`")
	} else if !errors.Is(err, store.ErrNoRecord) {
		return nil, err
	}
	acc, err := a.loadAccount(ctx, claims.Login)
	if errors.Is(err, store.ErrNoRecord) {
		return nil, errorf(http.StatusUnauthorized, "invalid token: the account %s no longer exists", claims.Login)
	}
	if err != nil {
		return nil, err
	}
	if claims.Issued < acc.TokensValidAfter {
		return nil, errorf(http.StatusUnauthorized, "token revoked: log in again with `god login`")
	}
	if !acc.Active {
		if acc.Kind == api.AccountGuest && acc.LastLogin == nil {
			return nil, errorf(http.StatusForbidden, "your guest account %s is not active yet: an admin must activate it", acc.Login)
		}
		return nil, errorf(http.StatusForbidden, "your account %s is disabled; ask an admin", acc.Login)
	}
	return &api.Caller{User: acc.User, Login: acc.Login, Kind: acc.Kind, Admin: a.adminAccount(acc), Via: api.ViaToken, Address: c.Remote, TokenID: claims.ID, TokenExpires: claims.ExpiresAt()}, nil
}

// initSigner loads the site's token key from the store, making it on the
// first start; every agent sharing the store then signs with it.
func (a *Agent) initSigner(ctx context.Context) error {
	for {
		r, err := a.rec.GetRecord(ctx, store.KindSecret, "token-key")
		if err == nil {
			a.signer, err = token.NewSigner(r.Value)
			return err
		}
		if !errors.Is(err, store.ErrNoRecord) {
			return err
		}
		err = a.rec.PutRecord(ctx, &store.Record{Kind: store.KindSecret, Key: "token-key", Value: token.NewKey()})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}

// validLogin refuses names that cannot be logins before any login method
// sees them: auth.CheckLogin's rules, and no spaces.
func validLogin(login string) error {
	bad := func(msg string) error {
		return &Error{Code: http.StatusBadRequest, Msg: "invalid login", Fields: []api.FieldError{{Field: "login", Message: msg}}}
	}
	switch {
	case login == "" || len(login) > auth.MaxLoginLength:
		return bad(fmt.Sprintf("a login of 1 to %d characters is required", auth.MaxLoginLength))
	case auth.CheckLogin(login) != nil || strings.ContainsFunc(login, unicode.IsSpace):
		return bad("a login has no spaces or control characters")
	}
	return nil
}

// loginLimiter slows password and key guessing: after maxLoginFailures
// failures for one login within loginWindow, further attempts are refused
// until the window passes.
type loginLimiter struct {
	mu sync.Mutex
	m  map[string]loginFailures
}

type loginFailures struct {
	n     int
	first time.Time
}

const (
	maxLoginFailures = 5
	loginWindow      = 5 * time.Minute
)

func (l *loginLimiter) allowed(login string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[login]
	if now.Sub(f.first) > loginWindow {
		delete(l.m, login)
		return true
	}
	return f.n < maxLoginFailures
}

func (l *loginLimiter) failed(login string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[login]
	if now.Sub(f.first) > loginWindow {
		f = loginFailures{first: now}
	}
	f.n++
	l.m[login] = f
}

func (l *loginLimiter) succeeded(login string) {
	l.mu.Lock()
	delete(l.m, login)
	l.mu.Unlock()
}

// Login exchanges a password (checked by the configured directories) or
// an API key for a token.
func (a *Agent) Login(ctx context.Context, c *agenthttp.Credentials, r *api.LoginRequest) (resp *api.LoginResponse, err error) {
	if err := validLogin(r.Login); err != nil {
		return nil, err
	}
	defer func() {
		a.audit(ctx, &api.Caller{Login: r.Login, Address: c.Remote}, "login", "", err)
	}()
	now := time.Now()
	if !a.logins.allowed(r.Login, now) {
		return nil, errorf(http.StatusTooManyRequests, "too many failed logins for %s: wait %s and try again", r.Login, loginWindow)
	}
	var acc *storedAccount
	switch {
	case r.APIKey != "" && r.Password != "":
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid login", Fields: []api.FieldError{{Field: "password", Message: "give a password or an API key, not both"}}}
	case r.APIKey != "":
		acc, err = a.apiKeyLogin(ctx, r)
	case r.Password != "":
		acc, err = a.passwordLogin(ctx, r)
	default:
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid login", Fields: []api.FieldError{{Field: "password", Message: "a password or an API key is required"}}}
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == http.StatusUnauthorized {
			a.logins.failed(r.Login, now)
		}
		return nil, err
	}
	a.logins.succeeded(r.Login)
	if !acc.Active {
		return nil, errorf(http.StatusForbidden, "your account %s is disabled; ask an admin", acc.Login)
	}
	acc, err = a.changeAccount(ctx, acc.Login, func(x *storedAccount) error {
		t := now.UTC()
		x.LastLogin = &t
		return nil
	})
	if err != nil {
		return nil, err
	}
	tok, claims := a.signer.Issue(acc.Login, now, a.cfg.TokenLifetime)
	return &api.LoginResponse{Token: tok, Expires: claims.ExpiresAt(), Account: a.accountView(acc)}, nil
}

var errBadKey = errorf(http.StatusUnauthorized, "invalid login or API key")

func (a *Agent) apiKeyLogin(ctx context.Context, r *api.LoginRequest) (*storedAccount, error) {
	acc, err := a.loadAccount(ctx, r.Login)
	if errors.Is(err, store.ErrNoRecord) {
		return nil, errBadKey
	}
	if err != nil {
		return nil, err
	}
	if !token.MatchAPIKey(r.APIKey, acc.APIKeyHash) {
		return nil, errBadKey
	}
	if acc.Kind == api.AccountLDAP {
		// The directory has the last word: a user removed or locked there
		// loses their API key too.
		return a.refreshFromDirectory(ctx, acc)
	}
	if acc.Kind == api.AccountLocal {
		// The system database has the last word on a local user.
		u, err := user.Lookup(acc.Login)
		if err != nil {
			return nil, errorf(http.StatusUnauthorized, "the system user %s no longer exists", acc.Login)
		}
		id, err := identity.Lookup(atoi(u.Uid))
		if err != nil {
			return nil, errorf(http.StatusUnauthorized, "%v", err)
		}
		return a.upsertAccount(ctx, api.AccountLocal, id, groupNames(id), "")
	}
	return acc, nil
}

func (a *Agent) passwordLogin(ctx context.Context, r *api.LoginRequest) (*storedAccount, error) {
	var unreachable error
	tried := 0
	for _, m := range a.authenticators {
		if m.Name() == api.AccountLocal {
			continue // local accounts log in with API keys
		}
		tried++
		id, err := m.Authenticate(ctx, r.Login, r.Password)
		if errors.Is(err, auth.ErrBadCredentials) {
			continue
		}
		if errors.Is(err, ldap.ErrUnreachable) {
			a.log.Warn("login: directory unavailable", "method", m.Name(), "error", err)
			unreachable = err
			continue
		}
		if err != nil {
			a.log.Warn("login: directory entry unusable", "method", m.Name(), "login", r.Login, "error", err)
			return nil, errorf(http.StatusForbidden, "your %s entry cannot be used by GoDocker: %v; ask your directory's administrators", m.Name(), err)
		}
		u := api.User{Name: id.Login, UID: id.UID, GID: id.GID, Groups: id.Groups, Home: id.Home}
		groups := slices.Clone(id.GroupNames)
		slices.Sort(groups)
		acc, err := a.upsertAccount(ctx, m.Name(), u, slices.Compact(groups), id.Email)
		if err != nil {
			return nil, err
		}
		if d, ok := m.(auth.Defaulter); ok && acc.LastLogin == nil {
			// First login: the directory may say what priority to start with.
			if def, err := d.Defaults(ctx, id); err == nil && def.Priority != nil {
				acc, err = a.changeAccount(ctx, acc.Login, func(x *storedAccount) error {
					x.Priority = *def.Priority
					return nil
				})
				if err != nil {
					return nil, err
				}
			}
		}
		return acc, nil
	}
	if tried == 0 {
		return nil, errorf(http.StatusUnauthorized, "password logins are not enabled on this site: log in with an API key (make one on the agent's host with `god user apikey`)")
	}
	if unreachable != nil {
		return nil, errorf(http.StatusServiceUnavailable, "cannot check your password now: the directory is unavailable; try again later")
	}
	return nil, errorf(http.StatusUnauthorized, "invalid login or password")
}

// refreshFromDirectory reads an LDAP account's entry again at an API key
// login.
func (a *Agent) refreshFromDirectory(ctx context.Context, acc *storedAccount) (*storedAccount, error) {
	for _, m := range a.authenticators {
		if m.Name() != acc.Kind {
			continue
		}
		id, err := m.Lookup(ctx, acc.Login)
		switch {
		case errors.Is(err, auth.ErrUnknownUser):
			return nil, errorf(http.StatusUnauthorized, "%s is no longer in the directory", acc.Login)
		case err != nil:
			a.log.Warn("login: directory unavailable", "method", m.Name(), "error", err)
			return nil, errorf(http.StatusServiceUnavailable, "cannot check your account now: the directory is unavailable; try again later")
		}
		u := api.User{Name: id.Login, UID: id.UID, GID: id.GID, Groups: id.Groups, Home: id.Home}
		groups := slices.Clone(id.GroupNames)
		slices.Sort(groups)
		return a.upsertAccount(ctx, m.Name(), u, slices.Compact(groups), id.Email)
	}
	return nil, errorf(http.StatusUnauthorized, "%s accounts cannot log in here: the site no longer has that login method", acc.Kind)
}

// DeleteAccount removes an account (admins only): for a login taken by the
// wrong kind of account, or a user gone for good. Their jobs stay; a user
// of the system database or a directory gets a new account at their next
// login.
func (a *Agent) DeleteAccount(ctx context.Context, caller *api.Caller, login string) error {
	if !caller.Admin {
		return errorf(http.StatusForbidden, "permission denied: only admins can delete users")
	}
	if login == caller.Login {
		return errorf(http.StatusBadRequest, "you cannot delete your own account")
	}
	err := a.rec.DeleteRecord(ctx, store.KindUser, login, 0)
	a.accts.mu.Lock()
	delete(a.accts.m, login)
	a.accts.mu.Unlock()
	if errors.Is(err, store.ErrNoRecord) {
		return errorf(http.StatusNotFound, "no user %s", login)
	}
	return err
}

// Logout revokes the caller's token until it would have expired.
func (a *Agent) Logout(ctx context.Context, caller *api.Caller) error {
	if caller.TokenID == "" {
		return errorf(http.StatusBadRequest, "you are not logged in with a token (the Unix socket needs no login)")
	}
	exp, _ := caller.TokenExpires.MarshalText()
	err := a.rec.PutRecord(ctx, &store.Record{Kind: store.KindToken, Key: caller.TokenID, Value: exp})
	if errors.Is(err, store.ErrConflict) {
		return nil // already revoked
	}
	return err
}

// Account returns an account: the caller's own ("self" or their login) or,
// for an admin, anyone's.
func (a *Agent) Account(ctx context.Context, caller *api.Caller, login string) (*api.Account, error) {
	if login == "self" {
		login = caller.Login
	}
	if login != caller.Login && !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: only admins can see other users")
	}
	acc, err := a.loadAccount(ctx, login)
	if errors.Is(err, store.ErrNoRecord) {
		return nil, errorf(http.StatusNotFound, "no user %s (users appear at their first login or first use of the agent)", login)
	}
	if err != nil {
		return nil, err
	}
	return a.accountView(acc), nil
}

// Accounts lists every account (admins only).
func (a *Agent) Accounts(ctx context.Context, caller *api.Caller) ([]*api.Account, error) {
	if !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: only admins can list users")
	}
	recs, err := a.rec.ListRecords(ctx, store.KindUser)
	if err != nil {
		return nil, err
	}
	out := make([]*api.Account, 0, len(recs))
	for _, r := range recs {
		acc := &storedAccount{}
		if err := json.Unmarshal(r.Value, acc); err != nil {
			return nil, fmt.Errorf("account %s: %w", r.Key, err)
		}
		out = append(out, a.accountView(acc))
	}
	return out, nil
}

// UpdateAccount changes a user's priority or activates/disables them
// (admins only). Disabling revokes every token of the user.
func (a *Agent) UpdateAccount(ctx context.Context, caller *api.Caller, login string, u *api.AccountUpdate) (*api.Account, error) {
	if !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: only admins can change users")
	}
	if u.Priority != nil && (*u.Priority < 0 || *u.Priority > 100) {
		return nil, &Error{Code: http.StatusBadRequest, Msg: "invalid update", Fields: []api.FieldError{{Field: "priority", Message: fmt.Sprintf("a priority is 0 to 100, got %d", *u.Priority)}}}
	}
	if u.Active != nil && !*u.Active && login == caller.Login {
		return nil, errorf(http.StatusBadRequest, "you cannot disable your own account")
	}
	acc, err := a.changeAccount(ctx, login, func(acc *storedAccount) error {
		if u.Active != nil && !*u.Active && acc.Kind != api.AccountGuest && acc.User.UID == 0 {
			return errorf(http.StatusBadRequest, "root cannot be disabled: it is the agent host's administrator")
		}
		if u.Priority != nil {
			acc.Priority = *u.Priority
		}
		if u.Active != nil {
			if acc.Active && !*u.Active {
				acc.TokensValidAfter = time.Now().Unix() + 1
			}
			acc.Active = *u.Active
		}
		return nil
	})
	if errors.Is(err, store.ErrNoRecord) {
		return nil, errorf(http.StatusNotFound, "no user %s", login)
	}
	if err != nil {
		return nil, err
	}
	a.prios.mu.Lock()
	delete(a.prios.m, login) // the next pass uses the new priority
	a.prios.mu.Unlock()
	return a.accountView(acc), nil
}

// RotateAPIKey makes a new API key for the caller ("self") or, for an
// admin, for any user; the old key stops working at once.
func (a *Agent) RotateAPIKey(ctx context.Context, caller *api.Caller, login string) (*api.APIKeyResponse, error) {
	if login == "self" || login == "" {
		login = caller.Login
	}
	if login != caller.Login && !caller.Admin {
		return nil, errorf(http.StatusForbidden, "permission denied: you can only make your own API key")
	}
	key := token.NewAPIKey()
	_, err := a.changeAccount(ctx, login, func(acc *storedAccount) error {
		if acc.Kind == api.AccountGuest {
			return errorf(http.StatusBadRequest, "guests log in through their identity provider (`god login -guest`), not with API keys")
		}
		acc.APIKeyHash = token.HashAPIKey(key)
		t := time.Now().UTC()
		acc.APIKeyDate = &t
		return nil
	})
	if errors.Is(err, store.ErrNoRecord) {
		return nil, errorf(http.StatusNotFound, "no user %s", login)
	}
	if err != nil {
		return nil, err
	}
	return &api.APIKeyResponse{APIKey: key}, nil
}

// audit records an action; a failure to record is logged, not returned: the
// action itself already happened or was refused.
func (a *Agent) audit(ctx context.Context, caller *api.Caller, action, target string, err error) {
	e := &api.AuditEntry{Time: time.Now().UTC(), Actor: caller.Login, Action: action, Target: target, Outcome: api.OutcomeOK, From: caller.Address}
	if caller.Via == api.ViaUnix && !strings.HasPrefix(caller.Address, "unix@") {
		e.From = "unix" // on this agent's socket; "unix@<agent>" when forwarded
	}
	if e.Actor == "" {
		e.Actor = "-"
	}
	if err != nil {
		e.Outcome, e.Reason = api.OutcomeRefused, truncate(err.Error(), 300)
		var ae *Error
		if errors.As(err, &ae) && len(ae.Fields) > 0 {
			e.Reason = truncate(e.Reason+": "+ae.Fields[0].Field+": "+ae.Fields[0].Message, 300)
		}
	}
	// An accepted submit is on record as the job itself, durably: its
	// entry may follow the answer by milliseconds, so that a submit waits
	// for one commit, not two. Everything else is written before the answer.
	if action == "job.submit" && err == nil && a.auditq != nil {
		select {
		case a.auditq <- e:
			return
		default: // the writer is behind: write this one now
		}
	}
	a.writeAudit(context.WithoutCancel(ctx), e)
}

func (a *Agent) writeAudit(ctx context.Context, e *api.AuditEntry) {
	if err := a.rec.AppendAudit(ctx, e); err != nil {
		a.log.Error("cannot write the audit log", "action", e.Action, "actor", e.Actor, "error", err)
	}
}

// auditWriter writes queued audit entries until the queue is closed and
// drained. Entries write concurrently, so they share the store's group
// commits.
func (a *Agent) auditWriter(q <-chan *api.AuditEntry) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for e := range q {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			a.writeAudit(context.Background(), e)
		})
	}
	wg.Wait()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Audit lists audit entries: all for an admin, the caller's own otherwise.
func (a *Agent) Audit(ctx context.Context, caller *api.Caller, q *api.AuditQuery) ([]*api.AuditEntry, error) {
	f := store.AuditFilter{Actor: q.Actor, Action: q.Action, Since: q.Since, Limit: q.Limit}
	if !caller.Admin {
		if q.Actor != "" && q.Actor != caller.Login {
			return nil, errorf(http.StatusForbidden, "permission denied: only admins can read other users' audit entries")
		}
		f.Actor = caller.Login
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	out, err := a.rec.ListAudit(ctx, f)
	if out == nil && err == nil {
		out = []*api.AuditEntry{}
	}
	return out, err
}

// localAuth is the "local" method: users of the system user database, who
// log in with API keys.
type localAuth struct{}

func (localAuth) Name() string { return api.AccountLocal }

func (localAuth) Authenticate(context.Context, string, string) (*auth.Identity, error) {
	return nil, auth.ErrBadCredentials
}

func (localAuth) Lookup(_ context.Context, login string) (*auth.Identity, error) {
	u, err := user.Lookup(login)
	if err != nil {
		return nil, auth.ErrUnknownUser
	}
	id, err := identity.Lookup(atoi(u.Uid))
	if err != nil {
		return nil, err
	}
	return &auth.Identity{Login: id.Name, UID: id.UID, GID: id.GID, Groups: id.Groups, GroupNames: groupNames(id), Home: id.Home}, nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// Record implements the API's audit hook.
func (a *Agent) Record(ctx context.Context, caller *api.Caller, action, target string, err error) {
	a.audit(ctx, caller, action, target, err)
}

// veto says why a job may not run now, at dispatch: its owner's account
// was disabled since they submitted it, or a login method refuses them.
func (a *Agent) veto(ctx context.Context, j *job.Job) error {
	acc, err := a.loadAccount(ctx, j.User.Name)
	if err == nil && !acc.Active {
		return fmt.Errorf("the account %s is disabled", acc.Login)
	}
	if p := projectOf(j); p != DefaultProject {
		if ok, err := a.inProject(ctx, &api.Caller{Login: j.User.Name}, p); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%s is no longer a member of project %s (or it was deleted); stop the job or ask an admin", j.User.Name, p)
		}
	}
	for _, m := range a.authenticators {
		v, ok := m.(auth.Vetoer)
		if !ok {
			continue
		}
		id := &auth.Identity{Login: j.User.Name, UID: j.User.UID, GID: j.User.GID, Groups: j.User.Groups, Home: j.User.Home}
		if acc != nil {
			id.GroupNames, id.Email = acc.Groups, acc.Email
		}
		if err := v.CanRun(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
