package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godocker/god/agent/cluster"
	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
)

// clustered is what an agent of a cluster adds: several agents share one
// Redis store and Consul elects one of them leader. Only the leader keeps
// the queue in memory, schedules, dispatches and follows the engine; it
// writes through a view of the store fenced with its epoch, so a deposed
// leader that has not noticed yet cannot change anything. The others
// forward every API request to the leader (forward.go).
type clustered struct {
	cluster *cluster.Cluster
	fencer  store.Fencer
	plain   store.Store   // the shared store, unfenced: for followers
	sw      *store.Switch // a.store and a.rec while clustered
	leading atomic.Bool

	leaderMu sync.Mutex
	leader   leaderInfo // cached, see leaderAddress

	watchers watchers // healthy watchers, who share finalizing (share.go)
}

type leaderInfo struct {
	name, address string
	at            time.Time
}

// joinCluster makes the agent read and write through a switchable view of
// the shared store.
func (a *Agent) joinCluster(o Options) error {
	f, ok := o.Store.(store.Fencer)
	if !ok {
		return fmt.Errorf("the job store %T cannot be shared by agents (no fencing)", o.Store)
	}
	a.cluster, a.fencer, a.plain = o.Cluster, f, o.Store
	a.sw = store.NewSwitch(o.Store)
	a.store, a.rec = a.sw, a.sw
	return nil
}

// runCluster registers the agent's roles in Consul, keeps them healthy and,
// with the scheduler role, takes part in the leader election until ctx
// ends.
func (a *Agent) runCluster(ctx context.Context) {
	// Register before campaigning: the leader's session is tied to its
	// scheduler heartbeat check, so a dead leader is noticed in CheckTTL.
	if !a.register(ctx) {
		return
	}
	if err := a.cluster.Beat(ctx, a.probe); err != nil {
		a.log.Warn("first heartbeat to Consul failed; Heartbeat retries", "error", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.followWatchers(ctx) })
	if a.cfg.HasRole(cluster.RoleWatcher) {
		wg.Go(func() { a.shareLoop(ctx) })
	}
	wg.Go(func() {
		a.cluster.Heartbeat(ctx, a.probe)
		// Deregister on the way out so that DNS forgets this agent at once.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.cluster.Deregister(dctx); err != nil {
			a.log.Warn("deregistering from Consul", "error", err)
		}
	})
	if a.cfg.HasRole(cluster.RoleScheduler) {
		a.cluster.Lead(ctx, a.lead)
	}
}

// register registers the roles, retrying while Consul is unreachable.
func (a *Agent) register(ctx context.Context) bool {
	health := a.cfg.HTTP.Scheme() + "://" + a.cfg.Cluster.Advertise + "/v1/agent/health"
	backoff := 500 * time.Millisecond
	for {
		err := a.cluster.Register(ctx, a.cfg.Roles, health)
		if err == nil {
			a.log.Info("registered in Consul", "name", a.cluster.Name(), "roles", a.cfg.Roles)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		a.log.Warn("registering in Consul failed; retrying", "error", err, "retry_in", backoff)
		sleep(ctx, backoff)
		backoff = min(2*backoff, 15*time.Second)
	}
}

// probe is the TTL check of the scheduler and watcher roles: they are
// healthy while the agent reaches the store (a standby is a ready leader).
func (a *Agent) probe(ctx context.Context, role string) error {
	return reachable(ctx, a.plain)
}

// reachable reads from st (job 0 never exists) to tell whether it answers.
func reachable(ctx context.Context, st store.Store) error {
	if _, err := st.Get(ctx, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("the job store is unreachable: %w", err)
	}
	return nil
}

// lead is the agent's term as leader: it claims its epoch in the store,
// reloads everything from there, and schedules until ctx says the lock is
// lost. Then it stops at once and waits for what it started.
func (a *Agent) lead(ctx context.Context, epoch uint64) {
	log := a.log.With("epoch", epoch)
	view, err := a.fencer.Fence(ctx, epoch)
	if err != nil {
		log.Error("claiming the leader epoch in the store failed; stepping down", "error", err)
		return
	}
	// A write refused by the fence means a newer leader claimed the
	// store: step down at once, whatever Consul says yet.
	ctx, stepDown := context.WithCancelCause(ctx)
	defer stepDown(nil)
	a.sw.Set(view, func() { stepDown(store.ErrFenced) })
	defer a.sw.Set(a.plain, nil)
	a.resetState()
	start := time.Now()
	if err := a.load(ctx); err != nil {
		if ctx.Err() == nil {
			log.Error("taking over failed; stepping down", "error", err)
		}
		return
	}
	a.leading.Store(true)
	log.Info("leading: scheduling and dispatching", "pending", a.QueueLength(), "loaded_in", time.Since(start).Round(time.Millisecond))
	var wg sync.WaitGroup
	if m, ok := a.plain.(clusterMarker); ok {
		wg.Go(func() { a.markCluster(ctx, m) })
	}
	a.startLoops(ctx, &wg)
	<-ctx.Done()
	// From here requests are forwarded to the next leader; the loops stop
	// (they watch ctx) and dispatches in flight end before the lock goes.
	a.leading.Store(false)
	log.Warn("no longer leading", "cause", context.Cause(ctx))
	wg.Wait()
	a.dispatching.Wait()
}

// clusterMarker is a store that tells agents without a consul block that a
// cluster shares it (the Redis store), so that they refuse it.
type clusterMarker interface {
	MarkCluster(ctx context.Context, leader string, ttl time.Duration) error
}

// markCluster keeps the store marked as this cluster's while this agent
// leads: the mark lasts a session TTL and is refreshed every third of it.
func (a *Agent) markCluster(ctx context.Context, m clusterMarker) {
	ttl := a.cfg.Cluster.SessionTTL
	for ctx.Err() == nil {
		if err := m.MarkCluster(ctx, a.cluster.Name(), ttl); err != nil && ctx.Err() == nil {
			a.log.Warn("marking the store as the cluster's", "error", err)
		}
		sleep(ctx, ttl/3)
	}
}

// leaderAddress is where the leader serves its API; it is cached briefly
// so that forwarding does not ask Consul for each request.
func (a *Agent) leaderAddress(ctx context.Context) (leaderInfo, error) {
	a.leaderMu.Lock()
	defer a.leaderMu.Unlock()
	if time.Since(a.leader.at) < time.Second && a.leader.address != "" {
		return a.leader, nil
	}
	name, addr, _, err := a.cluster.Leader(ctx)
	if err != nil {
		return leaderInfo{}, err
	}
	a.leader = leaderInfo{name: name, address: addr, at: time.Now()}
	return a.leader, nil
}

// forgetLeader drops the cached leader after it failed to answer.
func (a *Agent) forgetLeader() {
	a.leaderMu.Lock()
	a.leader = leaderInfo{}
	a.leaderMu.Unlock()
}

// IsLeader tells whether this agent schedules: always outside a cluster.
func (a *Agent) IsLeader() bool { return a.cluster == nil || a.leading.Load() }

// Health answers the health check: an agent serves while it reaches its
// store.
func (a *Agent) Health(ctx context.Context) (*api.AgentHealth, bool) {
	h := &api.AgentHealth{Roles: a.cfg.Roles, Leader: a.IsLeader(), Status: "ok"}
	probe := a.store
	if a.cluster != nil {
		h.Name = a.cluster.Name()
		probe = a.plain
		if a.leading.Load() {
			h.LeaderName = h.Name
		} else if l, err := a.leaderAddress(ctx); err == nil {
			h.LeaderName = l.name
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := reachable(ctx, probe); err != nil {
		h.Status = err.Error()
		return h, false
	}
	return h, true
}

// Members lists the agents of the cluster (admins only); outside a
// cluster, this agent alone.
func (a *Agent) Members(ctx context.Context, caller *api.Caller) ([]*api.Member, error) {
	if !caller.Admin {
		return nil, errorf(http.StatusForbidden, "only admins may list the agents")
	}
	if a.cluster == nil {
		m := &api.Member{Name: "local", Address: publicURL(a.cfg), Leader: true}
		for _, r := range a.cfg.Roles {
			m.Roles = append(m.Roles, api.RoleHealth{Role: r, Status: "passing"})
		}
		return []*api.Member{m}, nil
	}
	ms, err := a.cluster.Members(ctx)
	if err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "%v", err)
	}
	out := make([]*api.Member, 0, len(ms))
	for _, m := range ms {
		am := &api.Member{Name: m.Name, Address: m.Address, ConsulNode: m.ConsulNode, Leader: m.Leader}
		for _, r := range m.Roles {
			am.Roles = append(am.Roles, api.RoleHealth{Role: r.Role, Status: r.Status})
		}
		out = append(out, am)
	}
	return out, nil
}
