// Package oidc is the OpenID Connect client GoDocker uses to admit guests:
// people without an account on the site who log in with an outside identity
// provider (Google, or GitHub and others through a bridge such as Dex). It
// runs the authorization-code flow with PKCE, verifies the ID token and
// returns the guest's claims; the agent decides what a guest may do (an admin
// activates each guest, guests run as a configured system user).
//
// A login has two halves that may happen in different requests: Begin makes
// the URL to open in a browser and remembers the login for a short time;
// Finish completes it from the identity provider's redirect to the callback.
package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	// PendingTTL is how long a begun login waits for its callback.
	PendingTTL = 10 * time.Minute
	// MaxPending bounds the logins waiting for their callback, so that
	// anonymous Begin calls cannot exhaust memory.
	MaxPending = 1024

	// httpTimeout bounds each request to the identity provider.
	httpTimeout = 30 * time.Second
)

// DefaultScopes are asked for when Config.Scopes is empty.
var DefaultScopes = []string{gooidc.ScopeOpenID, "email", "profile"}

var (
	// ErrUnknownState is returned by Finish for a state it never issued or
	// already consumed: a replayed or forged callback.
	ErrUnknownState = errors.New("unknown or already used login state; start the login again")
	// ErrExpiredState is returned by Finish when the callback comes after
	// PendingTTL.
	ErrExpiredState = fmt.Errorf("login expired (not finished within %s); start the login again", PendingTTL)
	// ErrTooManyPending is returned by Begin while MaxPending logins wait.
	ErrTooManyPending = fmt.Errorf("too many logins in progress (%d); try again in a few minutes", MaxPending)
	// ErrInvalidIDToken wraps every reason an ID token is refused: bad
	// signature, wrong issuer or audience, expired, nonce mismatch.
	ErrInvalidIDToken = errors.New("invalid ID token")
	// ErrEmailNotVerified is returned when a verified email is required and
	// the identity provider does not vouch for the guest's address.
	ErrEmailNotVerified = errors.New("the identity provider did not verify this email address")
	// ErrDomainNotAllowed is returned when the guest's email domain is not
	// in Config.AllowedDomains.
	ErrDomainNotAllowed = errors.New("email domain not allowed")
)

// Config says which identity provider to trust and how this site is
// registered with it.
type Config struct {
	// Issuer is the provider's issuer URL, e.g. https://accounts.google.com.
	// It must be https, except on a loopback address.
	Issuer string
	// ClientID and ClientSecret identify GoDocker to the provider. The
	// secret may be empty for a public client (PKCE protects the code).
	ClientID     string
	ClientSecret string
	// RedirectURL is the agent's callback, registered with the provider.
	RedirectURL string
	// Scopes asked for; DefaultScopes when empty. "openid" is always added.
	Scopes []string
	// AllowedDomains, if set, admits only guests whose verified email is in
	// one of these domains (exact match, case-insensitive; list
	// subdomains explicitly).
	AllowedDomains []string
	// RequireVerifiedEmail refuses guests without an email the provider
	// verified. A verified email is always required when AllowedDomains is
	// set: an unverified address proves nothing about its domain.
	RequireVerifiedEmail bool
}

// Claims are what GoDocker learns about a guest from the ID token.
type Claims struct {
	// Issuer and Subject identify the guest for good: the subject is unique
	// and never reassigned within an issuer, unlike the email.
	Issuer  string
	Subject string
	// Email may be empty when the provider shares none; EmailVerified says
	// whether the provider vouches for it.
	Email         string
	EmailVerified bool
	// Name is for display only.
	Name string
}

// Provider runs guest logins against one identity provider. It is safe for
// concurrent use.
type Provider struct {
	oauth          oauth2.Config
	provider       *gooidc.Provider
	verifier       *gooidc.IDTokenVerifier
	httpClient     *http.Client
	allowedDomains map[string]bool
	requireEmail   bool

	// now and maxPending are fields so tests can move time and shrink the
	// table.
	now        func() time.Time
	maxPending int

	mu      sync.Mutex
	pending map[string]*pendingLogin // by state
}

// pendingLogin is a login between Begin and Finish.
type pendingLogin struct {
	loginID  string
	nonce    string
	verifier string // PKCE code verifier
	expires  time.Time
}

// New validates cfg and fetches the provider's discovery document.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := validate(&cfg); err != nil {
		return nil, err
	}

	client := &http.Client{Timeout: httpTimeout}
	provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		var mismatch *gooidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("oidc issuer %q announces itself as %q in its discovery document; set issuer to exactly that value: %w",
				cfg.Issuer, mismatch.Discovered, err)
		}
		return nil, fmt.Errorf("oidc issuer %q: cannot read its discovery document %s: %w",
			cfg.Issuer, strings.TrimSuffix(cfg.Issuer, "/")+"/.well-known/openid-configuration", err)
	}

	p := &Provider{
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Endpoint:     provider.Endpoint(),
			Scopes:       cfg.Scopes,
		},
		provider:     provider,
		verifier:     provider.Verifier(&gooidc.Config{ClientID: cfg.ClientID}),
		httpClient:   client,
		requireEmail: cfg.RequireVerifiedEmail || len(cfg.AllowedDomains) > 0,
		now:          time.Now,
		maxPending:   MaxPending,
		pending:      make(map[string]*pendingLogin),
	}
	if len(cfg.AllowedDomains) > 0 {
		p.allowedDomains = make(map[string]bool, len(cfg.AllowedDomains))
		for _, d := range cfg.AllowedDomains {
			p.allowedDomains[d] = true
		}
	}
	return p, nil
}

// validate checks cfg, normalises domains and fills in default scopes.
func validate(cfg *Config) error {
	if cfg.Issuer == "" {
		return errors.New("oidc: issuer is required, e.g. issuer = \"https://accounts.google.com\"")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("oidc: issuer %q must be an absolute https URL, e.g. \"https://accounts.google.com\"", cfg.Issuer)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("oidc: issuer %q must use https (http is accepted only on a loopback address, for tests)", cfg.Issuer)
	}
	if cfg.ClientID == "" {
		return errors.New("oidc: client_id is required: the client ID this site got when registering with the identity provider")
	}
	if cfg.RedirectURL == "" {
		return errors.New("oidc: redirect_url is required: the agent's callback URL, as registered with the identity provider")
	}
	r, err := url.Parse(cfg.RedirectURL)
	if err != nil || r.Host == "" || (r.Scheme != "https" && r.Scheme != "http") {
		return fmt.Errorf("oidc: redirect_url %q must be an absolute http(s) URL, e.g. \"https://god.example.org/v1/auth/oidc/callback\"", cfg.RedirectURL)
	}

	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	cfg.Scopes = []string{gooidc.ScopeOpenID}
	for _, s := range scopes {
		if s != gooidc.ScopeOpenID {
			cfg.Scopes = append(cfg.Scopes, s)
		}
	}

	domains := make([]string, 0, len(cfg.AllowedDomains))
	for _, d := range cfg.AllowedDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			return fmt.Errorf("oidc: allowed_domains: %q is not a domain; write it like \"example.org\"", d)
		}
		domains = append(domains, d)
	}
	cfg.AllowedDomains = domains
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Begin starts a login. It returns the login's ID, for the client that
// waits for the result, and the URL to open in a browser. The state in that
// URL is not the login ID, so whoever sees the URL cannot claim the result.
func (p *Provider) Begin() (loginID, authURL string, err error) {
	// rand.Text has 128 random bits: enough that none can be guessed.
	loginID, state, nonce := rand.Text(), rand.Text(), rand.Text()
	verifier := oauth2.GenerateVerifier()

	now := p.now()
	p.mu.Lock()
	if len(p.pending) >= p.maxPending {
		p.dropExpiredLocked(now)
	}
	if len(p.pending) >= p.maxPending {
		// Refused rather than evicting the oldest: a flood of Begin calls
		// must not silently cancel logins people are finishing.
		p.mu.Unlock()
		return "", "", ErrTooManyPending
	}
	p.pending[state] = &pendingLogin{
		loginID:  loginID,
		nonce:    nonce,
		verifier: verifier,
		expires:  now.Add(PendingTTL),
	}
	p.mu.Unlock()

	authURL = p.oauth.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return loginID, authURL, nil
}

func (p *Provider) dropExpiredLocked(now time.Time) {
	for state, l := range p.pending {
		if !now.Before(l.expires) {
			delete(p.pending, state)
		}
	}
}

// take removes and returns the pending login for state: a state is good for
// one callback only, whether or not that callback succeeds.
func (p *Provider) take(state string) (*pendingLogin, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.pending[state]
	if !ok {
		return nil, ErrUnknownState
	}
	delete(p.pending, state)
	if !p.now().Before(l.expires) {
		return l, ErrExpiredState
	}
	return l, nil
}

// Cancel ends the login waiting on state, for a callback that carries an
// error instead of a code (the user declined). It returns the login's ID so
// the caller can report the failure to the waiting client.
func (p *Provider) Cancel(state string) (loginID string, err error) {
	l, err := p.take(state)
	if l != nil {
		loginID = l.loginID
	}
	return loginID, err
}

// Finish completes the login waiting on state with the code the identity
// provider sent to the callback. It returns the login's ID whenever state
// was known, even with an error, so the caller can tell the waiting client
// why the login failed.
func (p *Provider) Finish(ctx context.Context, state, code string) (loginID string, c *Claims, err error) {
	l, err := p.take(state)
	if l != nil {
		loginID = l.loginID
	}
	if err != nil {
		return loginID, nil, err
	}
	if code == "" {
		return loginID, nil, errors.New("the callback has no code; start the login again")
	}

	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.httpClient)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(l.verifier))
	if err != nil {
		return loginID, nil, fmt.Errorf("exchanging the code at the identity provider: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return loginID, nil, fmt.Errorf("%w: the token response has no id_token; does the provider support OpenID Connect?", ErrInvalidIDToken)
	}
	idToken, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return loginID, nil, fmt.Errorf("%w: %w", ErrInvalidIDToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(l.nonce)) != 1 {
		return loginID, nil, fmt.Errorf("%w: nonce does not match the login's", ErrInvalidIDToken)
	}
	if idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
			return loginID, nil, fmt.Errorf("%w: %w", ErrInvalidIDToken, err)
		}
	}
	if idToken.Subject == "" {
		return loginID, nil, fmt.Errorf("%w: no subject (sub)", ErrInvalidIDToken)
	}

	var raws idTokenClaims
	if err := idToken.Claims(&raws); err != nil {
		return loginID, nil, fmt.Errorf("%w: reading claims: %w", ErrInvalidIDToken, err)
	}
	c = &Claims{
		Issuer:        idToken.Issuer,
		Subject:       idToken.Subject,
		Email:         raws.Email,
		EmailVerified: bool(raws.EmailVerified),
		Name:          raws.Name,
	}
	if c.Name == "" {
		c.Name = raws.PreferredUsername
	}
	if c.Email == "" && p.requireEmail && p.provider.UserInfoEndpoint() != "" {
		// Some providers keep the email out of the ID token.
		if err := p.fillFromUserInfo(ctx, tok, c); err != nil {
			return loginID, nil, err
		}
	}
	if err := p.checkEmail(c); err != nil {
		return loginID, nil, err
	}
	return loginID, c, nil
}

// idTokenClaims are the ID token claims beyond the registered ones.
type idTokenClaims struct {
	Email             string     `json:"email"`
	EmailVerified     stringBool `json:"email_verified"`
	Name              string     `json:"name"`
	PreferredUsername string     `json:"preferred_username"`
}

// stringBool accepts true and "true": some providers send booleans as
// strings.
type stringBool bool

func (b *stringBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		return fmt.Errorf("email_verified: %s is not a boolean", data)
	}
	return nil
}

func (p *Provider) fillFromUserInfo(ctx context.Context, tok *oauth2.Token, c *Claims) error {
	info, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("reading the guest's email from the userinfo endpoint: %w", err)
	}
	if info.Subject != c.Subject {
		return fmt.Errorf("the userinfo endpoint answered for subject %q, not the ID token's %q", info.Subject, c.Subject)
	}
	c.Email, c.EmailVerified = info.Email, info.EmailVerified
	return nil
}

func (p *Provider) checkEmail(c *Claims) error {
	if !p.requireEmail {
		return nil
	}
	if c.Email == "" {
		return fmt.Errorf("%w: the identity provider shared no email address; is the \"email\" scope asked for?", ErrEmailNotVerified)
	}
	if !c.EmailVerified {
		return fmt.Errorf("%w: %s", ErrEmailNotVerified, c.Email)
	}
	if p.allowedDomains == nil {
		return nil
	}
	at := strings.LastIndexByte(c.Email, '@')
	if at < 0 || !p.allowedDomains[strings.ToLower(c.Email[at+1:])] {
		return fmt.Errorf("%w: %s", ErrDomainNotAllowed, c.Email)
	}
	return nil
}
