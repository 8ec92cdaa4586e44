package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
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

// wantStatus checks a service instance's check as the Consul agent that
// runs it sees it: the catalog (and DNS) follow status changes at once, but
// the output only every few minutes.
func wantStatus(client *api.Client, id, status, output string) func() error {
	return func() error {
		checks, err := client.Agent().Checks()
		if err != nil {
			return err
		}
		for _, c := range checks {
			if c.ServiceID != id {
				continue
			}
			if c.Status != status || !strings.Contains(c.Output, output) {
				return fmt.Errorf("%s is %s (%q), want %s with %q", id, c.Status, c.Output, status, output)
			}
			return nil
		}
		return fmt.Errorf("no check for %s", id)
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
	must.NoError(t, wantStatus(direct, schedID, api.HealthCritical, "")())
	must.NoError(t, wantStatus(direct, watchID, api.HealthCritical, "")())

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

	waitFor(t, 15*time.Second, wantStatus(direct, schedID, api.HealthPassing, "worker scheduler is alive"))
	waitFor(t, 15*time.Second, wantStatus(direct, watchID, api.HealthCritical, "the watch loop is stuck"))
	stuck.Store(false)
	waitFor(t, 15*time.Second, wantStatus(direct, watchID, api.HealthPassing, "worker watcher is alive"))

	waitFor(t, 10*time.Second, wantMembers(c, cluster.Member{
		Name: "worker", Address: "127.0.0.1:4646", ConsulNode: consulNode(t, direct),
		Roles: []cluster.RoleHealth{
			{Role: cluster.RoleScheduler, Status: api.HealthPassing},
			{Role: cluster.RoleWatcher, Status: api.HealthPassing},
		},
	}))

	// Consul loses a service (reaped, or its agent restarted without
	// state): the heartbeat registers it again.
	must.NoError(t, direct.Agent().ServiceDeregister(schedID))
	waitFor(t, 15*time.Second, wantStatus(direct, schedID, api.HealthPassing, "alive"))

	// Without heartbeats the TTL runs out.
	stopHeartbeat()
	<-beating
	waitFor(t, 15*time.Second, wantStatus(direct, schedID, api.HealthCritical, ""))

	must.NoError(t, c.Deregister(ctx))
	waitFor(t, 10*time.Second, func() error {
		for _, service := range []string{sched, watch} {
			entries, _, err := direct.Catalog().Service(service, "", nil)
			if err != nil || len(entries) > 0 {
				return fmt.Errorf("%s still in the catalog (%d, %v)", service, len(entries), err)
			}
		}
		return nil
	})
	waitFor(t, 10*time.Second, wantMembers(c))
}

// wantMembers compares c.Members with want.
func wantMembers(c *cluster.Cluster, want ...cluster.Member) func() error {
	return func() error {
		got, err := c.Members(context.Background())
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
			return fmt.Errorf("members\n got %+v\nwant %+v", got, want)
		}
		return nil
	}
}

func consulNode(t *testing.T, client *api.Client) string {
	t.Helper()
	name, err := client.Agent().NodeName()
	must.NoError(t, err)
	return name
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
	// wantSRV waits for the SRV records of the service to name exactly
	// ports (none: the name does not resolve).
	wantSRV := func(ports ...int) func() error {
		return func() error {
			_, records, err := resolver.LookupSRV(ctx, "", "", service+".service.consul.")
			var dnsErr *net.DNSError
			if len(ports) == 0 && errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				return nil
			}
			if err != nil {
				return err
			}
			var got []int
			for _, r := range records {
				got = append(got, int(r.Port))
			}
			slices.Sort(got)
			if !slices.Equal(got, ports) {
				return fmt.Errorf("DNS answers ports %v, want %v", got, ports)
			}
			return nil
		}
	}

	alpha.healthy.Store(true)
	waitFor(t, 20*time.Second, wantStatus(direct, service+"-alpha", api.HealthPassing, ""))
	waitFor(t, 20*time.Second, wantStatus(direct, service+"-beta", api.HealthCritical, "503"))
	waitFor(t, 10*time.Second, wantSRV(alpha.port())) // only alpha is healthy
	entries, _, err := direct.Catalog().Service(service, "", nil)
	must.NoError(t, err)
	must.Len(t, 2, entries, must.Sprint("beta is in the catalog, but left out of DNS"))

	alpha.healthy.Store(false)
	beta.healthy.Store(true)
	waitFor(t, 20*time.Second, wantStatus(direct, service+"-alpha", api.HealthCritical, "503"))
	waitFor(t, 20*time.Second, wantStatus(direct, service+"-beta", api.HealthPassing, ""))
	waitFor(t, 10*time.Second, wantSRV(beta.port())) // only beta is healthy

	beta.healthy.Store(false)
	waitFor(t, 20*time.Second, wantStatus(direct, service+"-beta", api.HealthCritical, "503"))
	waitFor(t, 10*time.Second, wantSRV()) // none is healthy

	var want []cluster.Member
	for _, name := range []string{"alpha", "beta"} {
		want = append(want, cluster.Member{
			Name: name, Address: apis[name].srv.Listener.Addr().String(), ConsulNode: consulNode(t, direct),
			Roles: []cluster.RoleHealth{{Role: cluster.RoleAPI, Status: api.HealthCritical}},
		})
	}
	waitFor(t, 10*time.Second, wantMembers(alpha.c, want...))
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
		// The leader's session is tied to its scheduler check: no
		// session while the check is critical, so heartbeat first.
		hctx, stop := context.WithCancel(ctx)
		t.Cleanup(stop)
		go c.Heartbeat(hctx, nil)
		startContender(t, c, rec)
	}
	leader := waitTerm(t, rec.elected, 30*time.Second, "leader")

	var want []cluster.Member
	for _, name := range []string{"one", "two"} {
		want = append(want, cluster.Member{
			Name: name, Address: "127.0.0.1:4646", ConsulNode: consulNode(t, consulClient(t, tc)),
			Roles:  []cluster.RoleHealth{{Role: cluster.RoleScheduler, Status: api.HealthPassing}},
			Leader: name == leader.name,
		})
	}
	waitFor(t, 10*time.Second, wantMembers(newCluster(t, tc, prefix, "observer", nil), want...))
}
