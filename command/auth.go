package command

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/cli"

	"github.com/godocker/god/api"
)

// authSource is where a client's token came from.
type authSource struct {
	// env is set when GOD_TOKEN was sent.
	env bool
	// saved is the token `god login` saved for the client's address, and
	// file where; expired is set when it was not sent for being expired.
	saved   *savedToken
	file    string
	expired bool
}

// authenticate puts the caller's token into cfg: GOD_TOKEN, else the saved
// token if it was issued by cfg.Address and has not expired.
func (m *Meta) authenticate(cfg *api.Config) error {
	m.auth = authSource{}
	if tok := os.Getenv(api.EnvToken); tok != "" {
		cfg.Token = tok
		m.auth.env = true
		return nil
	}
	path, err := tokenPath()
	if err != nil {
		return nil // nowhere a token could have been saved
	}
	t, err := loadToken(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		// None saved, or none of the caller's: a file they may not read is
		// another user's (su keeps XDG_CONFIG_HOME) and cannot be sent.
		return nil
	case err != nil && (t == nil || sameAddress(t.Address, cfg.Address)):
		return err
	case !sameAddress(t.Address, cfg.Address):
		return nil // issued by another agent: never send it here
	}
	m.auth.saved, m.auth.file = t, path
	if t.expired(time.Now()) {
		m.auth.expired = true
		m.hintOnUnauthorized(cfg, fmt.Sprintf("Your saved login as %s at %s expired on %s, so it was not sent: run `god login` to log in again.",
			t.Login, t.Address, formatTime(&t.Expires)))
		return nil
	}
	cfg.Token = t.Token
	return nil
}

// hintOnUnauthorized makes the command's first error after an answer 401
// end with hint: the agent knows it got no token, only the CLI knows why.
// Over a Unix socket the agent identifies callers itself, so only HTTP
// addresses need it.
func (m *Meta) hintOnUnauthorized(cfg *api.Config, hint string) {
	u, err := url.Parse(cfg.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || cfg.HTTPClient != nil {
		return
	}
	t := &statusWatch{base: &http.Transport{MaxIdleConnsPerHost: 64}}
	cfg.HTTPClient = &http.Client{Transport: t}
	m.Ui = &hintUi{Ui: m.Ui, watch: t, hint: hint}
}

// statusWatch remembers whether the agent ever answered 401.
type statusWatch struct {
	base         http.RoundTripper
	unauthorized atomic.Bool
}

func (w *statusWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		w.unauthorized.Store(true)
	}
	return resp, err
}

// hintUi prints a hint once, after the first error that follows a 401.
type hintUi struct {
	cli.Ui
	watch *statusWatch
	hint  string
	once  sync.Once
}

func (u *hintUi) Error(message string) {
	u.Ui.Error(message)
	if u.watch.unauthorized.Load() {
		u.once.Do(func() { u.Ui.Error(u.hint) })
	}
}
