package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/auth/oidc"
	"github.com/godocker/god/store"
)

// guestLogins follows guest logins between the CLI's start, the browser's
// callback and the CLI's polls.
type guestLogins struct {
	mu       sync.Mutex
	provider *oidc.Provider
	polls    map[string]*guestPoll // by login id
}

type guestPoll struct {
	result  api.GuestLoginResult
	expires time.Time
}

// guestProvider builds the OIDC client on first use: the identity
// provider being down must not stop the agent.
func (a *Agent) guestProvider(ctx context.Context) (*oidc.Provider, error) {
	if a.guests == nil {
		return nil, errorf(http.StatusNotFound, `guest logins are not enabled on this site (no auth "oidc" block)`)
	}
	a.guestLogins.mu.Lock()
	defer a.guestLogins.mu.Unlock()
	if a.guestLogins.provider != nil {
		return a.guestLogins.provider, nil
	}
	p, err := oidc.New(ctx, a.guests.oidc)
	if err != nil {
		a.log.Error("guest login: identity provider unavailable", "error", err)
		return nil, errorf(http.StatusServiceUnavailable, "guest login is unavailable: the identity provider does not answer; try again later")
	}
	a.guestLogins.provider = p
	if a.guestLogins.polls == nil {
		a.guestLogins.polls = map[string]*guestPoll{}
	}
	return p, nil
}

// GuestLoginStart begins a guest login: the URL to open in a browser, and
// the id to poll for its outcome.
func (a *Agent) GuestLoginStart(ctx context.Context) (*api.GuestLoginStart, error) {
	p, err := a.guestProvider(ctx)
	if err != nil {
		return nil, err
	}
	id, url, err := p.Begin()
	if errors.Is(err, oidc.ErrTooManyPending) {
		return nil, errorf(http.StatusTooManyRequests, "too many guest logins in progress; try again in a few minutes")
	}
	if err != nil {
		return nil, err
	}
	a.guestLogins.mu.Lock()
	now := time.Now()
	for k, v := range a.guestLogins.polls {
		if now.After(v.expires) {
			delete(a.guestLogins.polls, k)
		}
	}
	a.guestLogins.polls[id] = &guestPoll{expires: now.Add(oidc.PendingTTL + time.Minute)}
	a.guestLogins.mu.Unlock()
	return &api.GuestLoginStart{ID: id, URL: url}, nil
}

// GuestLoginPoll tells a waiting CLI how its login went; a finished
// result is given once.
func (a *Agent) GuestLoginPoll(_ context.Context, id string) (*api.GuestLoginResult, error) {
	a.guestLogins.mu.Lock()
	defer a.guestLogins.mu.Unlock()
	p, ok := a.guestLogins.polls[id]
	if !ok || time.Now().After(p.expires) {
		return nil, errorf(http.StatusNotFound, "no guest login %q in progress (they last %s): start again with `god login -guest`", id, oidc.PendingTTL)
	}
	r := p.result
	if r.Done {
		delete(a.guestLogins.polls, id)
	}
	return &r, nil
}

// GuestLoginCallback completes a login from the identity provider's
// redirect. It returns the message the browser shows.
func (a *Agent) GuestLoginCallback(ctx context.Context, state, code, idpError string) (string, error) {
	p, err := a.guestProvider(ctx)
	if err != nil {
		return "", err
	}
	if idpError != "" {
		id, _ := p.Cancel(state)
		a.finishPoll(id, nil, "the identity provider refused the login: "+idpError)
		return "", errorf(http.StatusForbidden, "login refused by the identity provider: %s", idpError)
	}
	id, claims, err := p.Finish(ctx, state, code)
	if err != nil {
		a.audit(ctx, &api.Caller{Login: "guest"}, "login.guest", "", err)
		a.finishPoll(id, nil, "login failed: "+err.Error())
		return "", errorf(http.StatusForbidden, "guest login failed: %v", err)
	}
	login, homeID := oidc.GuestLogin(claims)
	acc, err := a.guestAccount(ctx, login, homeID, claims)
	caller := &api.Caller{Login: login, Kind: api.AccountGuest}
	if err != nil {
		a.audit(ctx, caller, "login.guest", "", err)
		a.finishPoll(id, nil, err.Error())
		return "", err
	}
	if !acc.Active {
		msg := fmt.Sprintf("your guest account %s is waiting for an admin to activate it", login)
		a.audit(ctx, caller, "login.guest", "", errors.New(msg))
		a.finishPoll(id, nil, msg)
		return msg + ". You can close this window.", nil
	}
	now := time.Now()
	acc, err = a.changeAccount(ctx, login, func(x *storedAccount) error {
		t := now.UTC()
		x.LastLogin = &t
		return nil
	})
	if err != nil {
		return "", err
	}
	tok, c := a.signer.Issue(login, now, a.cfg.TokenLifetime)
	a.audit(ctx, caller, "login.guest", "", nil)
	a.finishPoll(id, &api.LoginResponse{Token: tok, Expires: c.ExpiresAt(), Account: a.accountView(acc)}, "")
	return "You are logged in as " + login + ". Return to your terminal; you can close this window.", nil
}

func (a *Agent) finishPoll(id string, login *api.LoginResponse, msg string) {
	a.guestLogins.mu.Lock()
	defer a.guestLogins.mu.Unlock()
	if p, ok := a.guestLogins.polls[id]; ok {
		p.result = api.GuestLoginResult{Done: true, Error: msg, Login: login}
	}
}

// guestAccount returns a guest's account, creating it inactive at their
// first login. A guest runs as the site's guest user with a home of their own.
func (a *Agent) guestAccount(ctx context.Context, login, homeID string, c *oidc.Claims) (*storedAccount, error) {
	for {
		acc, err := a.loadAccount(ctx, login)
		if err == nil {
			return acc, nil
		}
		if !errors.Is(err, store.ErrNoRecord) {
			return nil, err
		}
		g := a.guests
		acc = &storedAccount{Account: api.Account{
			Login: login, Kind: api.AccountGuest, Email: c.Email, Priority: defaultPriority, Created: time.Now().UTC(),
			User: api.User{Name: login, UID: g.uid, GID: g.gid, Home: filepath.Join(g.homeRoot, homeID)},
		}}
		err = a.saveAccount(ctx, acc)
		if !errors.Is(err, store.ErrConflict) {
			return acc, err
		}
	}
}

// guestHome makes a guest's home directory on first use, owned by the
// guest user: under an agent-owned root, so no guest can swap it for a link.
func (a *Agent) guestHome(u api.User) error {
	root := a.guests.homeRoot
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("creating the guests' home root: %w", err)
	}
	if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("guests.home_root %s is not a directory", root)
	}
	if filepath.Dir(u.Home) != filepath.Clean(root) {
		return fmt.Errorf("guest home %s is not under %s", u.Home, root)
	}
	if err := os.Mkdir(u.Home, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating your home: %w", err)
	}
	if fi, err := os.Lstat(u.Home); err != nil || !fi.IsDir() {
		return fmt.Errorf("your home %s is not a directory", u.Home)
	}
	return os.Lchown(u.Home, u.UID, u.GID)
}
