package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"time"

	"github.com/godocker/god/agent/cluster"
	agenthttp "github.com/godocker/god/agent/http"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/agent/token"
	"github.com/godocker/god/api"
)

// forwardTTL bounds how long a forwarded identity may be replayed; it
// covers clock skew between the agents' hosts.
const forwardTTL = 30 * time.Second

// forwarding serves the API on an agent of a cluster: the leader answers
// itself; the others forward each request to the leader with the caller's
// identity as they saw it (the kernel's word on their Unix socket), signed
// with the key the agents share. A bearer token is forwarded as it came.
func (a *Agent) forwarding(next http.Handler) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target := r.In.Context().Value(forwardTarget{}).(string)
			r.Out.URL.Scheme = a.cfg.HTTP.Scheme()
			r.Out.URL.Host = target
			r.Out.Host = target
			r.SetXForwarded()
		},
		// Logs followed with -f and blocking queries stream.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.forgetLeader()
			a.log.Warn("forwarding to the leader failed", "path", r.URL.Path, "error", err)
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				// Never sent: safe to try again once a leader serves.
				unavailable(w, fmt.Sprintf("the leader cannot be reached (%v): retry in a few seconds", err))
				return
			}
			// Sent, but the answer was lost: it may have been carried out.
			agenthttp.WriteError(w, http.StatusBadGateway, &api.ErrorResponse{Error: fmt.Sprintf("the leader stopped answering (%v): the request may or may not have been carried out; check with god job status before trying again", err)})
		},
	}
	if a.cfg.HTTP.TLSCert != "" {
		proxy.Transport = a.peerTransport()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/agent/health" || a.leading.Load() {
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get(agenthttp.ForwardedHeader) != "" {
			// Forwarded by an agent that still thinks this one leads:
			// never forward twice (no loops); the caller retries.
			a.forgetLeader()
			unavailable(w, "leadership is changing: retry in a few seconds")
			return
		}
		if !a.cfg.HasRole(cluster.RoleAPI) {
			unavailable(w, "this agent does not serve the API (roles: "+fmt.Sprint(a.cfg.Roles)+")")
			return
		}
		leader, err := a.leaderAddress(r.Context())
		if err != nil {
			if errors.Is(err, cluster.ErrNoLeader) {
				unavailable(w, "no leader is elected yet: retry in a few seconds")
			} else {
				unavailable(w, err.Error())
			}
			return
		}
		if leader.name == a.cluster.Name() {
			// Elected, and loading the queue: a moment more.
			unavailable(w, "this agent is taking over as leader: retry in a few seconds")
			return
		}
		peer := identity.FromContext(r.Context())
		remote := r.RemoteAddr
		if peer.Unix {
			remote = "unix@" + a.cluster.Name()
		}
		f := &token.Forwarded{UID: peer.UID, Known: peer.Known, Unix: peer.Unix, Remote: remote, Via: a.cluster.Name(),
			Method: r.Method, Path: r.URL.Path, Expires: time.Now().Add(forwardTTL).UnixMilli()}
		r = r.Clone(context.WithValue(r.Context(), forwardTarget{}, leader.address))
		r.Header.Set(agenthttp.ForwardedHeader, a.signer.SignForwarded(f))
		proxy.ServeHTTP(w, r)
	})
}

type forwardTarget struct{}

// peerTransport reaches the other agents over TLS, verifying them with
// http.tls_ca_file or the system's roots.
func (a *Agent) peerTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if f := a.cfg.HTTP.TLSCAFile; f != "" {
		pool := x509.NewCertPool()
		if pem, err := os.ReadFile(f); err == nil && pool.AppendCertsFromPEM(pem) {
			t.TLSClientConfig.RootCAs = pool
		} else {
			a.log.Error("http.tls_ca_file holds no usable certificate; verifying the other agents with the system's roots", "file", f, "error", err)
		}
	}
	return t
}

// unavailable answers 503 with a Retry-After: the client (god retries)
// comes back once a leader serves.
func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "2")
	agenthttp.WriteError(w, http.StatusServiceUnavailable, &api.ErrorResponse{Error: msg})
}

// forwardedPeer replaces a request's credentials with what the agent that
// forwarded it vouches for; a forged, replayed or stale identity is
// refused.
func (a *Agent) forwardedPeer(c *agenthttp.Credentials) error {
	f, err := a.signer.VerifyForwarded(c.Forwarded, c.Method, c.Path, time.Now())
	if err != nil {
		a.log.Warn("refused a forwarded identity", "remote", c.Remote, "error", err)
		return errorf(http.StatusUnauthorized, "invalid forwarded identity (%v)", err)
	}
	c.Peer = identity.Peer{UID: f.UID, Known: f.Known, Unix: f.Unix}
	c.Remote = f.Remote
	return nil
}
