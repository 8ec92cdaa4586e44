// Package cluster coordinates several GoDocker agents through Consul: one of
// them is elected leader (the only active scheduler) through a Consul lock,
// every leadership gets a fencing epoch, and each agent registers its roles
// as Consul services with health checks, so that clients find healthy agents
// by DNS and operators can list the members.
package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/internal/lazy"
)

// Consul's own bounds: a session TTL outside [10s, 24h] and a lock delay
// over 60s are refused by the server; checks are reaped at most once a
// minute, so a shorter deregistration delay would only mislead.
const (
	minSessionTTL      = 10 * time.Second
	maxSessionTTL      = 24 * time.Hour
	maxLockDelay       = 60 * time.Second
	minDeregisterAfter = time.Minute
)

// Defaults of Config's zero fields.
const (
	DefaultServicePrefix   = "god"
	DefaultKVPrefix        = "god"
	DefaultSessionTTL      = 15 * time.Second
	DefaultLockDelay       = 5 * time.Second
	DefaultCheckTTL        = 10 * time.Second
	DefaultCheckInterval   = 10 * time.Second
	DefaultCheckTimeout    = 5 * time.Second
	DefaultDeregisterAfter = 10 * time.Minute
)

// Config says how to reach Consul and how this agent appears in it. Zero
// fields take the defaults above; Address, Token and the TLS files left
// empty fall back to Consul's usual environment (CONSUL_HTTP_ADDR,
// CONSUL_HTTP_TOKEN, CONSUL_CACERT...), then to 127.0.0.1:8500.
type Config struct {
	// Address of the Consul HTTP API: "host:port", "https://host:port" or
	// "unix:///path".
	Address string
	// Token is the ACL token, or TokenFile a file holding it (read by
	// New); it is never logged.
	Token     string
	TokenFile string
	// Datacenter defaults to the local agent's.
	Datacenter string
	// CAFile, CertFile and KeyFile configure TLS to Consul.
	CAFile   string
	CertFile string
	KeyFile  string

	// ServicePrefix names the services: <prefix>-api, <prefix>-scheduler...
	ServicePrefix string
	// KVPrefix roots the keys: <prefix>/leader/lock and <prefix>/leader/epoch.
	// Agents that must elect one leader share it.
	KVPrefix string
	// NodeName names this agent among the others (default: the host name).
	NodeName string
	// Advertise is the host:port where the other agents and clients reach
	// this agent's HTTP API. Required by Register; shown by Leader.
	Advertise string

	// SessionTTL bounds how long a leader that stops renewing its session
	// (crash, partition) keeps the lock. Consul may wait up to twice the TTL
	// before it invalidates the session; the leader steps down by itself
	// after one TTL without a successful renewal.
	SessionTTL time.Duration
	// LockDelay is how long Consul refuses the lock to everyone after a
	// leader's session was invalidated: time for a deposed leader to notice.
	LockDelay time.Duration

	// CheckTTL is the TTL of the checks of the scheduler and watcher roles;
	// Heartbeat passes them every CheckTTL/3.
	CheckTTL time.Duration
	// CheckInterval and CheckTimeout drive the HTTP check of the api role.
	CheckInterval time.Duration
	CheckTimeout  time.Duration
	// DeregisterAfter removes a service whose check stayed critical that
	// long (Consul's DeregisterCriticalServiceAfter, at least 1m).
	DeregisterAfter time.Duration
}

// Cluster is this agent's handle on the Consul cluster.
type Cluster struct {
	cfg    Config
	client *api.Client
	log    hclog.Logger

	lockKey  string
	epochKey string

	mu         sync.Mutex
	registered map[string]*api.AgentServiceRegistration // by role
}

// namePattern keeps names usable as DNS labels and Consul IDs.
var namePattern = lazy.Regexp(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// kvPrefixPattern allows nested paths ("team/god") without empty segments.
var kvPrefixPattern = lazy.Regexp(`^[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$`)

// New checks the configuration and returns a Cluster; it does not contact
// Consul yet.
func New(cfg Config, logger hclog.Logger) (*Cluster, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := cfg.Finalize(); err != nil {
		return nil, err
	}
	ac := api.DefaultConfigWithLogger(logger.Named("consul-api"))
	if cfg.Address != "" {
		ac.Address = cfg.Address
	}
	if cfg.Token != "" {
		ac.Token = cfg.Token
	}
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("consul.token_file: %w", err)
		}
		ac.Token = strings.TrimSpace(string(b))
	}
	if cfg.Datacenter != "" {
		ac.Datacenter = cfg.Datacenter
	}
	if cfg.CAFile != "" {
		ac.TLSConfig.CAFile = cfg.CAFile
	}
	if cfg.CertFile != "" {
		ac.TLSConfig.CertFile = cfg.CertFile
	}
	if cfg.KeyFile != "" {
		ac.TLSConfig.KeyFile = cfg.KeyFile
	}
	client, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("consul: connecting to %q: %w", ac.Address, err)
	}
	return &Cluster{
		cfg:        cfg,
		client:     client,
		log:        logger.Named("cluster"),
		lockKey:    cfg.KVPrefix + "/leader/lock",
		epochKey:   cfg.KVPrefix + "/leader/epoch",
		registered: map[string]*api.AgentServiceRegistration{},
	}, nil
}

// Name is this agent's name in the cluster.
func (c *Cluster) Name() string { return c.cfg.NodeName }

// Finalize fills the defaults and checks every field, reporting every
// problem at once; errors name the field as written in the agent's
// `consul` block ("consul.session_ttl ..."). New calls it; the agent's
// configuration may call it earlier to report problems with its own.
func (cfg *Config) Finalize() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("consul."+format, args...))
	}

	if cfg.ServicePrefix == "" {
		cfg.ServicePrefix = DefaultServicePrefix
	}
	if !namePattern().MatchString(cfg.ServicePrefix) {
		bad("service_prefix must be letters, digits and inner dashes (a DNS label) such as %q, got %q", DefaultServicePrefix, cfg.ServicePrefix)
	}
	cfg.KVPrefix = strings.Trim(cfg.KVPrefix, "/")
	if cfg.KVPrefix == "" {
		cfg.KVPrefix = DefaultKVPrefix
	}
	if !kvPrefixPattern().MatchString(cfg.KVPrefix) {
		bad("kv_prefix must be slash-separated segments of letters, digits, '.', '_' or '-' such as %q, got %q", DefaultKVPrefix, cfg.KVPrefix)
	}
	if cfg.NodeName == "" {
		host, err := os.Hostname()
		if err != nil {
			bad("node_name is needed: the host name is unknown (%v)", err)
		}
		// A FQDN is cut to its first label: names are DNS labels.
		cfg.NodeName, _, _ = strings.Cut(host, ".")
	}
	if cfg.NodeName != "" && !namePattern().MatchString(cfg.NodeName) {
		bad("node_name must be letters, digits and inner dashes, at most 63 characters, got %q", cfg.NodeName)
	}
	if cfg.Advertise != "" {
		if err := checkHostPort(cfg.Advertise); err != nil {
			bad("advertise must be the host:port where others reach this agent's HTTP API, such as \"10.0.0.5:6543\"; %q: %v", cfg.Advertise, err)
		}
	}

	durations := []struct {
		name     string
		v        *time.Duration
		def      time.Duration
		min, max time.Duration
	}{
		{"session_ttl", &cfg.SessionTTL, DefaultSessionTTL, minSessionTTL, maxSessionTTL},
		{"lock_delay", &cfg.LockDelay, DefaultLockDelay, time.Millisecond, maxLockDelay},
		{"check_ttl", &cfg.CheckTTL, DefaultCheckTTL, time.Second, maxSessionTTL},
		{"check_interval", &cfg.CheckInterval, DefaultCheckInterval, time.Second, time.Hour},
		{"check_timeout", &cfg.CheckTimeout, DefaultCheckTimeout, time.Second, time.Hour},
		{"deregister_after", &cfg.DeregisterAfter, DefaultDeregisterAfter, minDeregisterAfter, 30 * 24 * time.Hour},
	}
	for _, d := range durations {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < d.min || *d.v > d.max {
			bad("%s must be between %s and %s (default %s), got %s", d.name, short(d.min), short(d.max), short(d.def), short(*d.v))
		}
	}
	return errors.Join(errs...)
}

// checkHostPort accepts "host:port" with a concrete host and a port.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return errors.New("the host is missing")
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%s means every interface, which nobody can connect to", host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port %q is not a number between 1 and 65535", port)
	}
	return nil
}

// checkHealthURL accepts an absolute http(s) URL.
func checkHealthURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("the scheme must be http or https")
	}
	if u.Host == "" {
		return errors.New("the host is missing")
	}
	return nil
}

// short prints a duration without zero units: "2m", not "2m0s".
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
