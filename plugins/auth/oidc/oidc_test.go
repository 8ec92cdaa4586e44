package oidc

// These tests run real logins against mockoidc, an OpenID provider started
// in-process on 127.0.0.1, driven by an HTTP client that follows the
// authorize redirect as a browser would. No binary is needed, so none skip.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/shoenig/test/must"
)

// startIssuer starts an identity provider signing with key (mockoidc's
// default key when nil).
func startIssuer(t *testing.T, key *rsa.PrivateKey, middleware ...func(http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(key)
	must.NoError(t, err)
	// KeyID caches on first use; compute it now rather than in concurrent
	// handlers.
	_, err = m.Keypair.KeyID()
	must.NoError(t, err)
	for _, mw := range middleware {
		must.NoError(t, m.AddMiddleware(mw))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	must.NoError(t, m.Start(ln, nil))
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}

const callbackURL = "http://127.0.0.1:9/v1/auth/oidc/callback" // never reached

func config(m *mockoidc.MockOIDC) Config {
	c := m.Config()
	return Config{
		Issuer:       c.Issuer,
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		RedirectURL:  callbackURL,
	}
}

func newProvider(t *testing.T, cfg Config) *Provider {
	t.Helper()
	p, err := New(context.Background(), cfg)
	must.NoError(t, err)
	return p
}

// authorize opens authURL like a browser and returns the state and code the
// provider redirects to the callback with.
func authorize(t *testing.T, authURL string) (state, code string) {
	t.Helper()
	browser := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := browser.Get(authURL)
	must.NoError(t, err)
	resp.Body.Close()
	must.EqOp(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	must.NoError(t, err)
	must.StrHasPrefix(t, callbackURL, loc.String())
	return loc.Query().Get("state"), loc.Query().Get("code")
}

// login runs Begin and the browser half of a login.
func login(t *testing.T, p *Provider) (loginID, state, code string) {
	t.Helper()
	loginID, authURL, err := p.Begin()
	must.NoError(t, err)
	state, code = authorize(t, authURL)
	return loginID, state, code
}

// tamperUser lets a test change the ID token the provider signs.
type tamperUser struct {
	*mockoidc.MockUser
	tamper func(*mockoidc.IDTokenClaims)
}

func (u tamperUser) Claims(scope []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	u.tamper(c)
	return u.MockUser.Claims(scope, c)
}

// userinfoOnlyUser keeps its email out of the ID token, as some providers
// do, and gives it, verified, from the userinfo endpoint.
type userinfoOnlyUser struct{ *mockoidc.MockUser }

func (u userinfoOnlyUser) Claims(_ []string, c *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return u.MockUser.Claims([]string{"openid"}, c)
}

func (u userinfoOnlyUser) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": u.Subject, "email": u.Email, "email_verified": true})
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestLoginThroughCallback runs a whole login: a browser follows the
// provider's redirect to a real callback server that calls Finish.
func TestLoginThroughCallback(t *testing.T) {
	m := startIssuer(t, nil)
	m.QueueUser(&mockoidc.MockUser{
		Subject: "108234", Email: "ada@example.org", EmailVerified: true, PreferredUsername: "ada",
	})

	type result struct {
		loginID string
		claims  *Claims
		err     error
	}
	results := make(chan result, 1)
	var p *Provider
	callback := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loginID, c, err := p.Finish(r.Context(), r.URL.Query().Get("state"), r.URL.Query().Get("code"))
		results <- result{loginID, c, err}
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		login, _ := GuestLogin(c)
		_, _ = w.Write([]byte("logged in as " + login))
	}))
	cfg := config(m)
	cfg.RedirectURL = "http://" + callback.Listener.Addr().String() + "/v1/auth/oidc/callback"
	cfg.RequireVerifiedEmail = true
	p = newProvider(t, cfg)
	callback.Start()
	t.Cleanup(callback.Close)

	loginID, authURL, err := p.Begin()
	must.NoError(t, err)
	u, err := url.Parse(authURL)
	must.NoError(t, err)
	q := u.Query()
	must.EqOp(t, "S256", q.Get("code_challenge_method"))
	must.NotEq(t, "", q.Get("code_challenge"))
	must.NotEq(t, "", q.Get("nonce"))
	must.EqOp(t, "openid email profile", q.Get("scope"))
	must.NotEq(t, loginID, q.Get("state"))
	must.StrNotContains(t, authURL, loginID)

	browser := &http.Client{Timeout: 10 * time.Second}
	resp, err := browser.Get(authURL)
	must.NoError(t, err)
	body := make([]byte, 512)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()

	res := <-results
	must.NoError(t, res.err)
	must.EqOp(t, http.StatusOK, resp.StatusCode)
	must.EqOp(t, loginID, res.loginID)
	must.Eq(t, &Claims{
		Issuer: m.Issuer(), Subject: "108234", Email: "ada@example.org", EmailVerified: true, Name: "ada",
	}, res.claims)
	want, _ := GuestLogin(res.claims)
	must.EqOp(t, "logged in as "+want, string(body[:n]))
	must.MapEmpty(t, p.pending)
}

func TestReplayedStateRefused(t *testing.T) {
	p := newProvider(t, config(startIssuer(t, nil)))
	loginID, state, code := login(t, p)

	got, c, err := p.Finish(context.Background(), state, code)
	must.NoError(t, err)
	must.EqOp(t, loginID, got)
	must.NotNil(t, c)

	got, c, err = p.Finish(context.Background(), state, code)
	must.ErrorIs(t, err, ErrUnknownState)
	must.EqOp(t, "", got)
	must.Nil(t, c)
}

// A state is consumed by its first callback even when that one fails, so a
// code cannot be tried again with it.
func TestStateSingleUseAfterFailure(t *testing.T) {
	p := newProvider(t, config(startIssuer(t, nil)))
	loginID, state, code := login(t, p)

	got, _, err := p.Finish(context.Background(), state, "not-the-code")
	must.ErrorContains(t, err, "exchanging the code")
	must.EqOp(t, loginID, got)

	_, _, err = p.Finish(context.Background(), state, code)
	must.ErrorIs(t, err, ErrUnknownState)
}

func TestWrongStateRefused(t *testing.T) {
	p := newProvider(t, config(startIssuer(t, nil)))
	loginID, state, code := login(t, p)

	for _, forged := range []string{"", "forged", state + "x", loginID} {
		got, c, err := p.Finish(context.Background(), forged, code)
		must.ErrorIs(t, err, ErrUnknownState, must.Sprint(forged))
		must.EqOp(t, "", got)
		must.Nil(t, c)
	}
	// Forged callbacks do not consume the real login.
	got, _, err := p.Finish(context.Background(), state, code)
	must.NoError(t, err)
	must.EqOp(t, loginID, got)
}

func TestExpiredStateRefused(t *testing.T) {
	p := newProvider(t, config(startIssuer(t, nil)))
	clock := &fakeClock{now: time.Now()}
	p.now = clock.Now

	early, earlyState, earlyCode := login(t, p)
	clock.Advance(PendingTTL - time.Second)
	late, lateState, lateCode := login(t, p)

	got, _, err := p.Finish(context.Background(), earlyState, earlyCode)
	must.NoError(t, err, must.Sprint("a second before its TTL a login still finishes"))
	must.EqOp(t, early, got)

	clock.Advance(PendingTTL)
	got, c, err := p.Finish(context.Background(), lateState, lateCode)
	must.ErrorIs(t, err, ErrExpiredState)
	must.EqOp(t, late, got)
	must.Nil(t, c)
}

// The exchange sends the PKCE verifier of the login; the provider checks it
// against the challenge of the authorize request.
func TestPKCEVerifierSent(t *testing.T) {
	p := newProvider(t, config(startIssuer(t, nil)))
	_, state, code := login(t, p)
	p.mu.Lock()
	p.pending[state].verifier = "a-verifier-that-does-not-match-the-challenge-at-all-0123456789"
	p.mu.Unlock()

	_, _, err := p.Finish(context.Background(), state, code)
	must.ErrorContains(t, err, "Code challenge did not match")
}

func TestCancel(t *testing.T) {
	p := newProvider(t, config(startIssuer(t, nil)))
	loginID, state, code := login(t, p)

	got, err := p.Cancel(state)
	must.NoError(t, err)
	must.EqOp(t, loginID, got)
	_, _, err = p.Finish(context.Background(), state, code)
	must.ErrorIs(t, err, ErrUnknownState)
	_, err = p.Cancel(state)
	must.ErrorIs(t, err, ErrUnknownState)
}

func TestBadIDTokensRefused(t *testing.T) {
	cases := map[string]struct {
		tamper func(*mockoidc.IDTokenClaims)
		want   string
	}{
		"another audience": {
			tamper: func(c *mockoidc.IDTokenClaims) { c.Audience = jwt.ClaimStrings{"someone-else"} },
			want:   "audience",
		},
		"another issuer": {
			tamper: func(c *mockoidc.IDTokenClaims) { c.Issuer = "https://evil.example" },
			want:   "issued by a different provider",
		},
		"expired": {
			tamper: func(c *mockoidc.IDTokenClaims) {
				past := time.Now().Add(-time.Hour)
				c.IssuedAt, c.NotBefore = jwt.NewNumericDate(past.Add(-time.Hour)), jwt.NewNumericDate(past.Add(-time.Hour))
				c.ExpiresAt = jwt.NewNumericDate(past)
			},
			want: "expired",
		},
		"nonce mismatch": {
			tamper: func(c *mockoidc.IDTokenClaims) { c.Nonce = "replayed-from-another-login" },
			want:   "nonce does not match",
		},
		"no nonce": {
			tamper: func(c *mockoidc.IDTokenClaims) { c.Nonce = "" },
			want:   "nonce does not match",
		},
		"no subject": {
			tamper: func(c *mockoidc.IDTokenClaims) { c.Subject = "" },
			want:   "no subject",
		},
	}
	m := startIssuer(t, nil)
	p := newProvider(t, config(m))
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m.QueueUser(tamperUser{MockUser: mockoidc.DefaultUser(), tamper: tc.tamper})
			loginID, state, code := login(t, p)
			got, c, err := p.Finish(context.Background(), state, code)
			must.ErrorIs(t, err, ErrInvalidIDToken)
			must.ErrorContains(t, err, tc.want)
			must.EqOp(t, loginID, got)
			must.Nil(t, c)
		})
	}
	// The same provider admits an untampered token: the refusals above are
	// about the tokens, not the setup.
	_, state, code := login(t, p)
	_, _, err := p.Finish(context.Background(), state, code)
	must.NoError(t, err)
}

// TestBadSignatureRefused: the issuer publishes one key (under the kid of
// the signing key) but signs with another.
func TestBadSignatureRefused(t *testing.T) {
	published, err := rsa.GenerateKey(rand.Reader, 2048)
	must.NoError(t, err)
	signing, err := rsa.GenerateKey(rand.Reader, 2048)
	must.NoError(t, err)
	signingPair, err := mockoidc.NewKeypair(signing)
	must.NoError(t, err)
	kid, err := signingPair.KeyID()
	must.NoError(t, err)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &published.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig",
	}}})
	must.NoError(t, err)

	servePublished := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == mockoidc.JWKSEndpoint {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(jwks)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	p := newProvider(t, config(startIssuer(t, signing, servePublished)))
	_, state, code := login(t, p)
	_, c, err := p.Finish(context.Background(), state, code)
	must.ErrorIs(t, err, ErrInvalidIDToken)
	must.ErrorContains(t, err, "signature")
	must.Nil(t, c)
}

func TestAllowedDomains(t *testing.T) {
	m := startIssuer(t, nil)
	cfg := config(m)
	cfg.AllowedDomains = []string{" @Example.org ", "lab.example.net"}
	p := newProvider(t, cfg)

	cases := []struct {
		email    string
		verified bool
		want     error
	}{
		{"ada@example.org", true, nil},
		{"Ada@EXAMPLE.ORG", true, nil},
		{"bob@lab.example.net", true, nil},
		{"eve@example.net", true, ErrDomainNotAllowed},
		{"eve@sub.example.org", true, ErrDomainNotAllowed},
		{"eve@example.org.evil.com", true, ErrDomainNotAllowed},
		{"eve@evilexample.org", true, ErrDomainNotAllowed},
		{"example.org", true, ErrDomainNotAllowed},
		// An unverified address proves nothing about its domain.
		{"eve@example.org", false, ErrEmailNotVerified},
		{"", false, ErrEmailNotVerified},
	}
	for _, tc := range cases {
		m.QueueUser(&mockoidc.MockUser{Subject: "s-" + tc.email, Email: tc.email, EmailVerified: tc.verified})
		loginID, state, code := login(t, p)
		got, c, err := p.Finish(context.Background(), state, code)
		must.EqOp(t, loginID, got)
		if tc.want == nil {
			must.NoError(t, err, must.Sprint(tc.email))
			must.EqOp(t, tc.email, c.Email)
			continue
		}
		must.ErrorIs(t, err, tc.want, must.Sprint(tc.email))
		must.Nil(t, c)
	}
}

func TestVerifiedEmail(t *testing.T) {
	m := startIssuer(t, nil)
	unverified := &mockoidc.MockUser{Subject: "77", Email: "ada@example.org", EmailVerified: false}

	t.Run("required", func(t *testing.T) {
		cfg := config(m)
		cfg.RequireVerifiedEmail = true
		p := newProvider(t, cfg)
		m.QueueUser(unverified)
		_, state, code := login(t, p)
		_, c, err := p.Finish(context.Background(), state, code)
		must.ErrorIs(t, err, ErrEmailNotVerified)
		must.ErrorContains(t, err, "ada@example.org")
		must.Nil(t, c)
	})
	t.Run("required but no email scope", func(t *testing.T) {
		cfg := config(m)
		cfg.RequireVerifiedEmail = true
		cfg.Scopes = []string{"profile"}
		p := newProvider(t, cfg)
		m.QueueUser(&mockoidc.MockUser{Subject: "78", Email: "ada@example.org", EmailVerified: true})
		_, state, code := login(t, p)
		_, _, err := p.Finish(context.Background(), state, code)
		must.ErrorIs(t, err, ErrEmailNotVerified)
		must.ErrorContains(t, err, `"email" scope`)
	})
	t.Run("not required", func(t *testing.T) {
		p := newProvider(t, config(m))
		m.QueueUser(unverified)
		_, state, code := login(t, p)
		_, c, err := p.Finish(context.Background(), state, code)
		must.NoError(t, err)
		must.EqOp(t, "ada@example.org", c.Email)
		must.False(t, c.EmailVerified)
	})
	t.Run("from userinfo", func(t *testing.T) {
		cfg := config(m)
		cfg.RequireVerifiedEmail = true
		p := newProvider(t, cfg)
		m.QueueUser(userinfoOnlyUser{&mockoidc.MockUser{Subject: "79", Email: "grace@example.org"}})
		_, state, code := login(t, p)
		_, c, err := p.Finish(context.Background(), state, code)
		must.NoError(t, err)
		must.EqOp(t, "grace@example.org", c.Email)
		must.True(t, c.EmailVerified)
	})
}

func TestPendingLoginsBounded(t *testing.T) {
	p := newProvider(t, config(startIssuer(t, nil)))
	must.EqOp(t, MaxPending, p.maxPending)
	clock := &fakeClock{now: time.Now()}
	p.now = clock.Now
	p.maxPending = 3

	var states []string
	for range 3 {
		_, state, _ := login(t, p)
		states = append(states, state)
	}
	_, _, err := p.Begin()
	must.ErrorIs(t, err, ErrTooManyPending)
	must.MapLen(t, 3, p.pending)

	// Finishing (or cancelling) a login frees its slot.
	_, err = p.Cancel(states[0])
	must.NoError(t, err)
	_, _, err = p.Begin()
	must.NoError(t, err)
	_, _, err = p.Begin()
	must.ErrorIs(t, err, ErrTooManyPending)

	// Expired logins make room too.
	clock.Advance(PendingTTL)
	for range 3 {
		_, _, err = p.Begin()
		must.NoError(t, err)
	}
	must.MapLen(t, 3, p.pending)
	_, _, err = p.Finish(context.Background(), states[1], "x")
	must.ErrorIs(t, err, ErrUnknownState)
}

func TestNewErrors(t *testing.T) {
	m := startIssuer(t, nil)
	good := config(m)

	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/issuer"
	ln.Close()

	cases := map[string]struct {
		change func(*Config)
		want   []string
	}{
		"unreachable": {
			change: func(c *Config) { c.Issuer = closed },
			want:   []string{closed, "discovery document", "refused"},
		},
		"issuer mismatch": {
			change: func(c *Config) { c.Issuer = m.Issuer() + "/" },
			want:   []string{"announces itself as", m.Issuer()},
		},
		"no issuer":         {change: func(c *Config) { c.Issuer = "" }, want: []string{"issuer is required"}},
		"relative issuer":   {change: func(c *Config) { c.Issuer = "accounts.google.com" }, want: []string{"absolute https URL"}},
		"plain http":        {change: func(c *Config) { c.Issuer = "http://idp.example.org" }, want: []string{"must use https"}},
		"no client id":      {change: func(c *Config) { c.ClientID = "" }, want: []string{"client_id is required"}},
		"no redirect":       {change: func(c *Config) { c.RedirectURL = "" }, want: []string{"redirect_url is required"}},
		"relative redirect": {change: func(c *Config) { c.RedirectURL = "/callback" }, want: []string{"redirect_url", "absolute"}},
		"bad domain":        {change: func(c *Config) { c.AllowedDomains = []string{"a@b.org"} }, want: []string{"allowed_domains", "a@b.org"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := good
			tc.change(&cfg)
			p, err := New(context.Background(), cfg)
			must.Nil(t, p)
			must.Error(t, err)
			for _, w := range tc.want {
				must.StrContains(t, err.Error(), w)
			}
		})
	}

	// Scopes always include openid, once.
	cfg := good
	cfg.Scopes = []string{"email", "openid"}
	p, err := New(context.Background(), cfg)
	must.NoError(t, err)
	must.Eq(t, []string{"openid", "email"}, p.oauth.Scopes)
}

func TestStringBool(t *testing.T) {
	for in, want := range map[string]bool{`true`: true, `"true"`: true, `false`: false, `"false"`: false, `null`: false} {
		var b stringBool
		must.NoError(t, json.Unmarshal([]byte(in), &b))
		must.EqOp(t, want, bool(b), must.Sprint(in))
	}
	var b stringBool
	must.Error(t, json.Unmarshal([]byte(`"yes"`), &b))
}
