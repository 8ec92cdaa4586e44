package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/cluster"
)

// waitFor retries cond until it returns nil, and fails with its last error.
func waitFor(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkOf is the check of one service instance, from the catalog.
func checkOf(client *api.Client, service, id string) (*api.HealthCheck, error) {
	checks, _, err := client.Health().Checks(service, nil)
	if err != nil {
		return nil, err
	}
	for _, c := range checks {
		if c.ServiceID == id {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no check for %s in %s", id, service)
}

func wantStatus(client *api.Client, service, id, status, output string) func() error {
	return func() error {
		c, err := checkOf(client, service, id)
		if err != nil {
			return err
		}
		if c.Status != status || !strings.Contains(c.Output, output) {
			return fmt.Errorf("%s is %s (%q), want %s with %q", id, c.Status, c.Output, status, output)
		}
		return nil
	}
}

func TestRegister_TTLChecksFollowTheHeartbeat(t *testing.T) {
	tc := shared.get(t)
	direct := consulClient(t, tc)
	prefix := "ttl" + randomSuffix()
	c := newCluster(t, tc, prefix, "worker", nil) // check TTL 3s
	ctx := context.Background()
	sched, watch := prefix+"-scheduler", prefix+"-watcher"
	schedID, watchID := sched+"-worker", watch+"-worker"

	must.NoError(t, c.Register(ctx, []string{cluster.RoleScheduler, cluster.RoleWatcher}, ""))
	t.Cleanup(func() { _ = c.Deregister(context.Background()) })
	must.NoError(t, wantStatus(direct, sched, schedID, api.HealthCritical, "")())
	must.NoError(t, wantStatus(direct, watch, watchID, api.HealthCritical, "")())

	var stuck atomic.Bool
	stuck.Store(true)
	probe := func(_ context.Context, role string) error {
		if role == cluster.RoleWatcher && stuck.Load() {
			return errors.New("the watch loop is stuck")
		}
		return nil
	}
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		c.Heartbeat(hbCtx, probe)
	}()
	t.Cleanup(func() { stopHeartbeat(); <-beating })

	waitFor(t, 15*time.Second, wantStatus(direct, sched, schedID, api.HealthPassing, "worker scheduler is alive"))
	waitFor(t, 15*time.Second, wantStatus(direct, watch, watchID, api.HealthCritical, "the watch loop is stuck"))
	stuck.Store(false)
	waitFor(t, 15*time.Second, wantStatus(direct, watch, watchID, api.HealthPassing, "worker watcher is alive"))

	members, err := c.Members(ctx)
	must.NoError(t, err)
	must.Len(t, 1, members)
	m := members[0]
	must.Eq(t, "worker", m.Name)
	must.Eq(t, "127.0.0.1:4646", m.Address)
	must.NotEq(t, "", m.ConsulNode)
	must.False(t, m.Leader)
	must.Eq(t, []cluster.RoleHealth{
		{Role: cluster.RoleScheduler, Status: api.HealthPassing},
		{Role: cluster.RoleWatcher, Status: api.HealthPassing},
	}, m.Roles)

	// Consul loses a service (reaped, or its agent restarted without
	// state): the heartbeat registers it again.
	must.NoError(t, direct.Agent().ServiceDeregister(schedID))
	waitFor(t, 15*time.Second, wantStatus(direct, sched, schedID, api.HealthPassing, "alive"))

	// Without heartbeats the TTL runs out.
	stopHeartbeat()
	<-beating
	waitFor(t, 15*time.Second, wantStatus(direct, sched, schedID, api.HealthCritical, ""))

	must.NoError(t, c.Deregister(ctx))
	for _, service := range []string{sched, watch} {
		entries, _, err := direct.Catalog().Service(service, "", nil)
		must.NoError(t, err)
		must.SliceEmpty(t, entries)
	}
	members, err = c.Members(ctx)
	must.NoError(t, err)
	must.SliceEmpty(t, members)
}

// fakeAPI is an agent's health endpoint whose answer the test decides.
type fakeAPI struct {
	healthy atomic.Bool
	srv     *httptest.Server
	c       *cluster.Cluster
}

func (f *fakeAPI) port() int { return f.srv.Listener.Addr().(*net.TCPAddr).Port }

func TestRegister_DNSReturnsOnlyHealthyAPIs(t *testing.T) {
	tc := shared.get(t)
	direct := consulClient(t, tc)
	prefix := "dns" + randomSuffix()
	service := prefix + "-api"
	ctx := context.Background()

	apis := map[string]*fakeAPI{}
	for _, name := range []string{"alpha", "beta"} {
		f := &fakeAPI{}
		f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/agent/health" || !f.healthy.Load() {
				http.Error(w, "not serving", http.StatusServiceUnavailable)
			}
		}))
		t.Cleanup(f.srv.Close)
		f.c = newCluster(t, tc, prefix, name, func(c *cluster.Config) { c.Advertise = f.srv.Listener.Addr().String() })
		must.NoError(t, f.c.Register(ctx, []string{cluster.RoleAPI}, f.srv.URL+"/v1/agent/health"))
		t.Cleanup(func() { _ = f.c.Deregister(context.Background()) })
		apis[name] = f
	}
	alpha, beta := apis["alpha"], apis["beta"]

	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", tc.DNSPort))
	}}
	lookup := func() []int {
		t.Helper()
		_, records, err := resolver.LookupSRV(ctx, "", "", service+".service.consul.")
		must.NoError(t, err)
		var ports []int
		for _, r := range records {
			ports = append(ports, int(r.Port))
		}
		slices.Sort(ports)
		return ports
	}

	alpha.healthy.Store(true)
	waitFor(t, 20*time.Second, wantStatus(direct, service, service+"-alpha", api.HealthPassing, ""))
	waitFor(t, 20*time.Second, wantStatus(direct, service, service+"-beta", api.HealthCritical, "503"))
	must.Eq(t, []int{alpha.port()}, lookup(), must.Sprint("only alpha is healthy"))

	alpha.healthy.Store(false)
	beta.healthy.Store(true)
	waitFor(t, 20*time.Second, wantStatus(direct, service, service+"-alpha", api.HealthCritical, "503"))
	waitFor(t, 20*time.Second, wantStatus(direct, service, service+"-beta", api.HealthPassing, ""))
	must.Eq(t, []int{beta.port()}, lookup(), must.Sprint("only beta is healthy"))

	beta.healthy.Store(false)
	waitFor(t, 20*time.Second, wantStatus(direct, service, service+"-beta", api.HealthCritical, "503"))
	_, _, err := resolver.LookupSRV(ctx, "", "", service+".service.consul.")
	var dnsErr *net.DNSError
	must.ErrorAs[*net.DNSError](t, err, &dnsErr, must.Sprint("no healthy API: no record"))
	must.True(t, dnsErr.IsNotFound)

	members, err := alpha.c.Members(ctx)
	must.NoError(t, err)
	must.Len(t, 2, members)
	for i, name := range []string{"alpha", "beta"} {
		must.Eq(t, name, members[i].Name)
		must.Eq(t, apis[name].srv.Listener.Addr().String(), members[i].Address)
		must.Eq(t, []cluster.RoleHealth{{Role: cluster.RoleAPI, Status: api.HealthCritical}}, members[i].Roles)
	}
}

func TestMembers_ShowTheLeader(t *testing.T) {
	tc := shared.get(t)
	prefix := "members" + randomSuffix()
	ctx := context.Background()
	rec := newRecorder()
	for _, name := range []string{"one", "two"} {
		c := newCluster(t, tc, prefix, name, nil)
		must.NoError(t, c.Register(ctx, []string{cluster.RoleScheduler}, ""))
		t.Cleanup(func() { _ = c.Deregister(context.Background()) })
		startContender(t, c, rec)
	}
	leader := waitTerm(t, rec.elected, 30*time.Second, "leader")

	members, err := newCluster(t, tc, prefix, "observer", nil).Members(ctx)
	must.NoError(t, err)
	must.Len(t, 2, members)
	for _, m := range members {
		must.Eq(t, m.Name == leader.name, m.Leader, must.Sprintf("member %s", m.Name))
		must.Eq(t, []cluster.RoleHealth{{Role: cluster.RoleScheduler, Status: api.HealthCritical}}, m.Roles,
			must.Sprint("no heartbeat yet"))
	}
}
