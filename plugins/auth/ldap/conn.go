package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// ErrUnreachable is returned (wrapped, with each URL and its error) when no
// directory server could be connected to.
var ErrUnreachable = errors.New("ldap: no directory server answered")

// session is one connection to one server. Every call opens its own, so
// nothing bound as one identity is ever used for another.
type session struct {
	conn *goldap.Conn
	url  string
	stop func() bool
}

func (s *session) Close() {
	s.stop()
	_ = s.conn.Close()
}

// dial connects to the first server that answers, in the configured order,
// with TLS as configured, and closes the connection when ctx ends so that a
// cancelled login does not wait for the server.
func (a *Authenticator) dial(ctx context.Context) (*session, error) {
	var failed []string
	for _, raw := range a.cfg.URLs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		conn, err := a.dialOne(ctx, raw)
		if err != nil {
			a.log.Warn("ldap server unreachable", "url", raw, "error", err)
			failed = append(failed, fmt.Sprintf("%s: %v", raw, err))
			continue
		}
		conn.SetTimeout(a.cfg.RequestTimeout)
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		return &session{conn: conn, url: raw, stop: stop}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnreachable, strings.Join(failed, "; "))
}

func (a *Authenticator) dialOne(ctx context.Context, raw string) (*goldap.Conn, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"ldap": goldap.DefaultLdapPort, "ldaps": goldap.DefaultLdapsPort}[u.Scheme]
	}
	dctx, cancel := context.WithTimeout(ctx, a.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, err
	}
	tc := a.cfg.tlsConfig(a.roots, u.Hostname())
	if u.Scheme == "ldaps" {
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS: %w", err)
		}
		nc = tlsConn
	}
	conn := goldap.NewConn(nc, u.Scheme == "ldaps")
	conn.Start()
	if a.cfg.StartTLS {
		// Bounded like the dial: a server that does not answer the
		// extended operation must not hold the login.
		stop := context.AfterFunc(dctx, func() { _ = conn.Close() })
		err := conn.StartTLS(tc)
		stop()
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	return conn, nil
}

// opError describes a failed operation with the server it ran on; a
// cancelled context wins over the connection error it caused.
func opError(ctx context.Context, s *session, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ldap: %s on %s: %w", op, s.url, ctxErr)
	}
	return fmt.Errorf("ldap: %s on %s: %w", op, s.url, err)
}
