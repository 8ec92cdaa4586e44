package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"
)

// The roles an agent registers; each becomes the service <prefix>-<role>.
// The api role is checked by Consul over HTTP; the others by a TTL check
// that Heartbeat passes.
const (
	RoleAPI       = "api"
	RoleScheduler = "scheduler"
	RoleWatcher   = "watcher"
)

// Service metadata that tells GoDocker's services from others and names
// the agent behind each.
const (
	metaNode = "god_node"
	metaRole = "god_role"
)

// Member is one agent as Consul sees it.
type Member struct {
	// Name is the agent's node_name.
	Name string
	// Address is where its HTTP API is advertised.
	Address string
	// ConsulNode is the Consul node it registered with.
	ConsulNode string
	// Roles are sorted by role.
	Roles []RoleHealth
	// Leader says whether it holds the leader lock.
	Leader bool
}

// RoleHealth is the health of one role of a member: the worst of its
// service check and its Consul node's checks.
type RoleHealth struct {
	Role string
	// Status is api.HealthPassing, HealthWarning, HealthCritical or
	// HealthMaint.
	Status string
}

// Register registers one Consul service per role for this agent, at the
// Advertise address, replacing what an earlier Register registered. The
// api role gets an HTTP check of healthURL (it must answer 2xx while the
// API serves); the other roles get a TTL check that starts critical and
// passes once Heartbeat runs. A service critical for DeregisterAfter is
// removed by Consul.
func (c *Cluster) Register(ctx context.Context, roles []string, healthURL string) error {
	regs, err := c.registrations(roles, healthURL)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for role, reg := range c.registered {
		if _, keep := regs[role]; !keep {
			if err := c.deregister(ctx, reg); err != nil {
				errs = append(errs, err)
				continue
			}
			delete(c.registered, role)
		}
	}
	for role, reg := range regs {
		if err := c.register(ctx, reg); err != nil {
			errs = append(errs, err)
			continue
		}
		c.registered[role] = reg
	}
	return errors.Join(errs...)
}

// registrations builds the services of roles, checking the input.
func (c *Cluster) registrations(roles []string, healthURL string) (map[string]*api.AgentServiceRegistration, error) {
	if len(roles) == 0 {
		return nil, errors.New("consul: no role to register: give at least one of api, scheduler, watcher")
	}
	if c.cfg.Advertise == "" {
		return nil, errors.New("consul: advertise is required to register services: set it to the host:port of this agent's HTTP API")
	}
	host, portText, _ := net.SplitHostPort(c.cfg.Advertise) // checked by New
	port, _ := strconv.Atoi(portText)

	regs := map[string]*api.AgentServiceRegistration{}
	for _, role := range roles {
		if !namePattern().MatchString(role) {
			return nil, fmt.Errorf("consul: role %q must be letters, digits and inner dashes, like %q", role, RoleScheduler)
		}
		id := c.serviceID(role)
		check := &api.AgentServiceCheck{
			CheckID:                        "service:" + id,
			DeregisterCriticalServiceAfter: c.cfg.DeregisterAfter.String(),
		}
		if role == RoleAPI {
			if healthURL == "" {
				return nil, errors.New("consul: the api role needs the URL of the agent's health endpoint for its HTTP check")
			}
			if err := checkHealthURL(healthURL); err != nil {
				return nil, fmt.Errorf("consul: health URL %q: %w", healthURL, err)
			}
			check.Name = "GoDocker API answers"
			check.HTTP = healthURL
			check.Interval = c.cfg.CheckInterval.String()
			check.Timeout = c.cfg.CheckTimeout.String()
		} else {
			check.Name = "GoDocker " + role + " heartbeat"
			check.TTL = c.cfg.CheckTTL.String()
			check.Status = api.HealthCritical
		}
		regs[role] = &api.AgentServiceRegistration{
			ID:      id,
			Name:    c.cfg.ServicePrefix + "-" + role,
			Tags:    []string{role},
			Address: host,
			Port:    port,
			Meta:    map[string]string{metaNode: c.cfg.NodeName, metaRole: role},
			Check:   check,
		}
	}
	return regs, nil
}

func (c *Cluster) serviceID(role string) string {
	return c.cfg.ServicePrefix + "-" + role + "-" + c.cfg.NodeName
}

func (c *Cluster) register(ctx context.Context, reg *api.AgentServiceRegistration) error {
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := c.client.Agent().ServiceRegisterOpts(reg, opts); err != nil {
		return fmt.Errorf("consul: registering service %s: %w", reg.ID, err)
	}
	return nil
}

func (c *Cluster) deregister(ctx context.Context, reg *api.AgentServiceRegistration) error {
	if err := c.client.Agent().ServiceDeregisterOpts(reg.ID, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("consul: deregistering service %s: %w", reg.ID, err)
	}
	return nil
}

// Deregister removes this agent's services; call it on shutdown, after
// Heartbeat has returned.
func (c *Cluster) Deregister(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for role, reg := range c.registered {
		if err := c.deregister(ctx, reg); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(c.registered, role)
	}
	return errors.Join(errs...)
}

// Heartbeat keeps this agent's registrations alive until ctx ends: every
// CheckTTL/3 it passes the TTL check of each registered role for which
// probe returns nil (a nil probe passes them all) and fails the others with
// the probe's error as output, and it registers again the services that
// Consul lost (reaped after DeregisterAfter, or a Consul agent restarted
// without its state). probe must not call Register or Deregister.
func (c *Cluster) Heartbeat(ctx context.Context, probe func(ctx context.Context, role string) error) {
	every := c.cfg.CheckTTL / 3
	healthy := true
	for ctx.Err() == nil {
		err := c.beat(ctx, probe)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && healthy:
			c.log.Warn("heartbeat to Consul failed; retrying", "error", err, "every", every)
		case err == nil && !healthy:
			c.log.Info("heartbeat to Consul works again")
		}
		healthy = err == nil
		sleep(ctx, every)
	}
}

// Beat runs one heartbeat at once, as Heartbeat does periodically: an agent
// passes its checks before it campaigns, since the leader's session needs
// its scheduler check passing.
func (c *Cluster) Beat(ctx context.Context, probe func(ctx context.Context, role string) error) error {
	return c.beat(ctx, probe)
}

// beat runs one heartbeat; it holds the registration lock so that a
// concurrent Deregister cannot be undone by a re-registration.
func (c *Cluster) beat(ctx context.Context, probe func(context.Context, string) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CheckTTL/3)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.registered) == 0 {
		return nil
	}
	present, err := c.client.Agent().ServicesWithFilterOpts("", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("listing the local agent's services: %w", err)
	}
	var errs []error
	for _, role := range slices.Sorted(maps.Keys(c.registered)) {
		reg := c.registered[role]
		if _, ok := present[reg.ID]; !ok {
			c.log.Info("registering a service Consul lost", "service", reg.ID)
			if err := c.register(ctx, reg); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if reg.Check.TTL == "" {
			continue
		}
		status, output := api.HealthPassing, c.cfg.NodeName+" "+role+" is alive"
		if probe != nil {
			if err := probe(ctx, role); err != nil {
				status, output = api.HealthCritical, err.Error()
			}
		}
		if err := c.client.Agent().UpdateTTLOpts(reg.Check.CheckID, output, status, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
			errs = append(errs, fmt.Errorf("updating check %s: %w", reg.Check.CheckID, err))
		}
	}
	return errors.Join(errs...)
}

// Members lists the agents registered in Consul (by any agent sharing the
// service prefix), their roles and health, and which one leads.
func (c *Cluster) Members(ctx context.Context) ([]Member, error) {
	q := (&api.QueryOptions{}).WithContext(ctx)
	names, _, err := c.client.Catalog().Services(q)
	if err != nil {
		return nil, fmt.Errorf("consul: listing services: %w", err)
	}
	leader, _, _, err := c.Leader(ctx)
	if err != nil && !errors.Is(err, ErrNoLeader) {
		return nil, err
	}

	type key struct{ name, node string }
	members := map[key]*Member{}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if !strings.HasPrefix(name, c.cfg.ServicePrefix+"-") {
			continue
		}
		entries, _, err := c.client.Health().Service(name, "", false, q)
		if err != nil {
			return nil, fmt.Errorf("consul: reading the health of %s: %w", name, err)
		}
		for _, e := range entries {
			agent, role := e.Service.Meta[metaNode], e.Service.Meta[metaRole]
			if agent == "" || role == "" {
				continue // not registered by GoDocker
			}
			k := key{agent, e.Node.Node}
			m := members[k]
			if m == nil {
				m = &Member{Name: agent, ConsulNode: e.Node.Node, Leader: agent == leader}
				members[k] = m
			}
			if m.Address == "" && e.Service.Port != 0 {
				m.Address = net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port))
			}
			m.Roles = append(m.Roles, RoleHealth{Role: role, Status: e.Checks.AggregatedStatus()})
		}
	}

	out := make([]Member, 0, len(members))
	for _, m := range members {
		sort.Slice(m.Roles, func(i, j int) bool { return m.Roles[i].Role < m.Roles[j].Role })
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ConsulNode < out[j].ConsulNode
	})
	return out, nil
}

// Healthy lists the names of the agents whose role passes its health
// check, sorted: the watchers that share the work of finalizing jobs.
func (c *Cluster) Healthy(ctx context.Context, role string) ([]string, error) {
	entries, _, err := c.client.Health().Service(c.cfg.ServicePrefix+"-"+role, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul: reading the health of %s-%s: %w", c.cfg.ServicePrefix, role, err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Service.Meta[metaNode]; n != "" && e.Service.Meta[metaRole] == role && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}
