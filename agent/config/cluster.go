package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/godocker/god/agent/cluster"
)

// The roles an agent may have in a cluster.
var allRoles = []string{cluster.RoleAPI, cluster.RoleScheduler, cluster.RoleWatcher}

// HasRole tells whether the agent has role; an agent outside a cluster has
// them all.
func (c *Config) HasRole(role string) bool {
	return c.Cluster == nil || slices.Contains(c.Roles, role)
}

// finalizeCluster checks roles and the consul block and converts the block
// into c.Cluster.
func (c *Config) finalizeCluster() []string {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Roles == nil {
		c.Roles = allRoles
	}
	seen := map[string]bool{}
	for _, r := range c.Roles {
		if !slices.Contains(allRoles, r) {
			bad("roles: unknown role %q; the roles are %q", r, allRoles)
		}
		if seen[r] {
			bad("roles: %q is listed twice", r)
		}
		seen[r] = true
	}
	if len(c.Roles) == 0 {
		bad("roles: an agent needs at least one role of %q", allRoles)
	}
	if c.Consul == nil {
		if len(c.Roles) != len(allRoles) {
			bad("roles: an agent without a consul block does everything; add a consul block to share the work among agents")
		}
		return errs
	}
	k := c.Consul
	if c.Store == nil || c.Store.Backend != "redis" {
		bad(`consul: the agents of a cluster share their jobs through a store "redis" block; the embedded store belongs to one agent`)
	}
	if !c.HTTP.Enabled {
		bad("consul: the agents of a cluster talk to each other over HTTP: set http { enabled = true }")
	}
	if k.Advertise == "" {
		bad(`consul: advertise is required: the host:port where the other agents reach this agent's HTTP API, e.g. "10.0.0.5:6543"`)
	}
	if k.Token != "" && k.TokenFile != "" {
		bad("consul: set token or token_file, not both")
	}
	if k.TokenFile != "" && !filepath.IsAbs(k.TokenFile) {
		bad("consul: token_file must be an absolute path, got %q", k.TokenFile)
	}
	cc := cluster.Config{
		Address: k.Address, Token: k.Token, TokenFile: k.TokenFile, Datacenter: k.Datacenter,
		CAFile: k.CAFile, CertFile: k.CertFile, KeyFile: k.KeyFile,
		ServicePrefix: k.ServicePrefix, KVPrefix: k.KVPrefix,
		NodeName: k.NodeName, Advertise: k.Advertise,
	}
	for _, d := range []struct {
		name string
		src  string
		dst  *time.Duration
	}{
		{"session_ttl", k.SessionTTL, &cc.SessionTTL},
		{"lock_delay", k.LockDelay, &cc.LockDelay},
		{"check_ttl", k.CheckTTL, &cc.CheckTTL},
		{"check_interval", k.CheckInterval, &cc.CheckInterval},
		{"check_timeout", k.CheckTimeout, &cc.CheckTimeout},
		{"deregister_after", k.DeregisterAfter, &cc.DeregisterAfter},
	} {
		if d.src == "" {
			continue
		}
		v, err := time.ParseDuration(d.src)
		if err != nil || v <= 0 {
			bad("consul: %s must be a positive duration such as \"15s\", got %q", d.name, d.src)
			continue
		}
		*d.dst = v
	}
	if err := cc.Finalize(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			errs = append(errs, e)
		}
	}
	c.Cluster = &cc
	return errs
}
