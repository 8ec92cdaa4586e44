// Package api is the Go client of the GoDocker HTTP API and its wire types.
// The god CLI uses it; third parties can too. It imports nothing else of
// GoDocker.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by DefaultConfig.
const (
	EnvAddr  = "GOD_ADDR"
	EnvToken = "GOD_TOKEN"
	// HeaderIdempotencyKey makes a submit safe to send again: the agent
	// keeps one job per key and caller, and a retry returns it.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// DefaultSocketPaths are tried in order when GOD_ADDR is unset: the system
// agent's socket, then the dev agent's.
var DefaultSocketPaths = []string{"/run/god/god.sock", "/tmp/god-dev/god.sock"}

// Config of a client.
type Config struct {
	// Address is http://host:port, https://host:port or unix:///path.
	Address string
	// Token is sent as a bearer token when set.
	Token string
	// HTTPClient overrides the transport; nil builds one from Address.
	HTTPClient *http.Client
	// RetryUnavailable is how long a request is retried while the agent
	// answers 503 with Retry-After (a cluster electing its leader): such
	// an answer means the request was not carried out. 0 means one
	// minute; a negative value never retries.
	RetryUnavailable time.Duration
}

// DefaultConfig reads GOD_ADDR and GOD_TOKEN; without GOD_ADDR it uses the
// first default socket that exists.
func DefaultConfig() *Config {
	cfg := &Config{Address: os.Getenv(EnvAddr), Token: os.Getenv(EnvToken)}
	if cfg.Address == "" {
		cfg.Address = "unix://" + DefaultSocketPaths[len(DefaultSocketPaths)-1]
		for _, p := range DefaultSocketPaths {
			if _, err := os.Stat(p); err == nil {
				cfg.Address = "unix://" + p
				break
			}
		}
	}
	return cfg
}

// Client talks to one agent.
type Client struct {
	cfg  Config
	base string
	hc   *http.Client
}

// NewClient builds a client; a nil config means DefaultConfig.
func NewClient(cfg *Config) (*Client, error) {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	c := &Client{cfg: *cfg, hc: cfg.HTTPClient}
	u, err := url.Parse(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("invalid address %q: %w", cfg.Address, err)
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Opaque
		}
		if path == "" {
			return nil, fmt.Errorf("invalid address %q: expected unix:///path/to/god.sock", cfg.Address)
		}
		c.base = "http://god"
		if c.hc == nil {
			c.hc = &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", path)
				},
				MaxIdleConnsPerHost: 64,
			}}
		}
	case "http", "https":
		c.base = strings.TrimSuffix(cfg.Address, "/")
		if c.hc == nil {
			c.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		}
	default:
		return nil, fmt.Errorf("invalid address %q: scheme must be unix, http or https", cfg.Address)
	}
	return c, nil
}

// Address returns the agent address the client uses.
func (c *Client) Address() string { return c.cfg.Address }

// FieldError names one invalid field of a request and how to fix it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ErrorResponse is the JSON body of every error answer.
type ErrorResponse struct {
	Error  string       `json:"error"`
	Fields []FieldError `json:"fields,omitempty"`
}

// APIError is returned for any non-2xx answer.
type APIError struct {
	StatusCode int
	Message    string
	Fields     []FieldError
}

func (e *APIError) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	var b strings.Builder
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "\n  * %s: %s", f.Field, f.Message)
	}
	return b.String()
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(buf)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	return req, nil
}

// send sends req and returns a 2xx answer, or the error. It retries, for
// up to RetryUnavailable, what is safe to send again: a 503 with
// Retry-After (the request was not carried out) and, for a request with
// an idempotency key, an answer lost after the request went out (the
// connection broke, or a follower answered 502 because the leader died):
// the agent may have carried it out, and the key makes the retry return
// that result instead of doing it twice.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	retryFor := c.cfg.RetryUnavailable
	if retryFor == 0 {
		retryFor = time.Minute
	}
	deadline := time.Now().Add(retryFor)
	keyed := req.Header.Get(HeaderIdempotencyKey) != "" || req.Context().Value(idempotentRequest{}) != nil
	rewindable := req.Body == nil || req.GetBody != nil
	resp, err := c.hc.Do(req)
	// A first attempt that could not connect sent nothing: report it at
	// once (the agent is not running), without waiting for the deadline.
	sent := err == nil || !isDialError(err)
	for attempt := 0; rewindable && time.Now().Before(deadline); attempt++ {
		wait, retry := retryWait(req, resp, err, keyed && sent, attempt)
		if !retry {
			break
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(wait):
		}
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		resp, err = c.hc.Do(req)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the GoDocker agent at %s: %w (is `god agent` running? set GOD_ADDR to its address)", c.cfg.Address, unwrapURLError(err))
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// retryWait says whether to send a request again after this outcome, and
// when. idempotent is true for a keyed request that was sent at least once.
func retryWait(req *http.Request, resp *http.Response, err error, idempotent bool, attempt int) (time.Duration, bool) {
	switch {
	case err == nil && resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs >= 0 {
			return min(time.Duration(secs)*time.Second, 5*time.Second), true
		}
		return time.Second, true
	case !idempotent:
		return 0, false
	case err == nil && resp.StatusCode == http.StatusBadGateway,
		err != nil && req.Context().Err() == nil:
		return min(250*time.Millisecond<<min(attempt, 3), 2*time.Second), true
	}
	return 0, false
}

// isDialError reports an error connecting: the request was never sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	req, err := c.newRequest(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	return c.doRequest(req, out)
}

// doRequest sends req and decodes the answer into out (nil: discarded).
func (c *Client) doRequest(req *http.Request, out any) error {
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the agent's answer: %w", err)
	}
	return nil
}

func (c *Client) stream(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var er ErrorResponse
	if json.Unmarshal(body, &er) == nil && er.Error != "" {
		return &APIError{StatusCode: resp.StatusCode, Message: er.Error, Fields: er.Fields}
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = resp.Status
	}
	return &APIError{StatusCode: resp.StatusCode, Message: msg}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Agent is the client for agent-level endpoints.
type Agent struct{ c *Client }

// Agent returns the agent endpoints of the client.
func (c *Client) Agent() *Agent { return &Agent{c: c} }

// AgentSelf describes the agent and the caller as the agent sees it.
type AgentSelf struct {
	Version  string `json:"version"`
	Dev      bool   `json:"dev"`
	Executor string `json:"executor"`
	Caller   Caller `json:"caller"`
}

// Self returns the agent's description.
func (a *Agent) Self(ctx context.Context) (*AgentSelf, error) {
	var out AgentSelf
	if err := a.c.do(ctx, http.MethodGet, "/v1/agent/self", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FormatSize writes a byte count in the binary units job specs use:
// "512MiB", "1.5GiB".
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size {
			v := strconv.FormatFloat(float64(n)/float64(u.size), 'f', 2, 64)
			return strings.TrimSuffix(strings.TrimRight(v, "0"), ".") + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// AgentHealth is an agent's answer to its health check.
type AgentHealth struct {
	// Name is the agent's name in its cluster (its host name alone).
	Name string `json:"name"`
	// Roles are what it does: api, scheduler, watcher.
	Roles []string `json:"roles"`
	// Leader says whether it leads (always, outside a cluster).
	Leader bool `json:"leader"`
	// LeaderName names the leader, when known.
	LeaderName string `json:"leader_name,omitempty"`
	// Status is "ok", or what is wrong.
	Status string `json:"status"`
}

// Health asks the agent whether it serves; it needs no login. An agent
// that cannot serve answers 503 with its AgentHealth in the error.
func (a *Agent) Health(ctx context.Context) (*AgentHealth, error) {
	var out AgentHealth
	if err := a.c.do(ctx, http.MethodGet, "/v1/agent/health", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Member is one agent of a cluster as Consul sees it.
type Member struct {
	Name       string       `json:"name"`
	Address    string       `json:"address"`
	ConsulNode string       `json:"consul_node,omitempty"`
	Roles      []RoleHealth `json:"roles"`
	Leader     bool         `json:"leader"`
}

// RoleHealth is the health of one role of a member: passing, warning,
// critical or maintenance.
type RoleHealth struct {
	Role   string `json:"role"`
	Status string `json:"status"`
}

// Operator is the client for cluster operations.
type Operator struct{ c *Client }

// Operator returns the operator endpoints of the client.
func (c *Client) Operator() *Operator { return &Operator{c: c} }

// Members lists the agents of the cluster, their roles and the leader
// (admins only).
func (o *Operator) Members(ctx context.Context) ([]*Member, error) {
	var out []*Member
	if err := o.c.do(ctx, http.MethodGet, "/v1/operator/members", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
