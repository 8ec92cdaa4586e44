package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/cluster/consultest"
	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/redis"
	"github.com/godocker/god/store/redis/redistest"
)

// testCluster is several `god agent` processes sharing one Redis store,
// one Consul, one engine and one job directory tree, as a site runs them
// in front of Nomad. The engine is the local Docker engine, or the live
// Nomad at GOD_NOMAD_ADDR when it is set.
type testCluster struct {
	t       *testing.T
	agents  []*agentProc
	http    []string // each agent's host:port
	consul  *consultest.Server
	redis   *redistest.Server
	kv      string // the agents' consul kv_prefix
	service string // and service_prefix
}

const (
	clusterTTL   = 10 * time.Second // Consul's minimum session TTL
	clusterDelay = time.Second
)

func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	needEnv(t)
	rs := redistest.Start(t)
	cs := consultest.Start(t)
	t.Cleanup(cs.Stop)
	ports, err := consultest.FreePorts(n)
	must.NoError(t, err)
	suffix := consultest.RandomSuffix()
	shared := traversableTempDir(t)
	tc := &testCluster{t: t, consul: cs, redis: rs, kv: "e2e/" + suffix, service: "gode2e" + suffix}
	for i := range n {
		addr := fmt.Sprintf("127.0.0.1:%d", ports[i])
		extra := fmt.Sprintf(`
http {
  enabled = true
  address = "127.0.0.1"
  port    = %d
}
store "redis" {
  address = %q
}
consul {
  address          = %q
  node_name        = "god-%d"
  advertise        = %q
  kv_prefix        = "e2e/%s"
  service_prefix   = "gode2e%s"
  session_ttl      = %q
  lock_delay       = %q
  check_ttl        = "3s"
  check_interval   = "1s"
  check_timeout    = "1s"
}
`, ports[i], rs.Addr, cs.Addr, i+1, addr, suffix, suffix, clusterTTL, clusterDelay)
		if addr := os.Getenv("GOD_NOMAD_ADDR"); addr != "" {
			// In front of a live Nomad (with the docker driver on this
			// host), as a site runs them.
			extra += fmt.Sprintf("executor = \"nomad\"\nnomad {\n  address  = %q\n  instance = \"gode2e-%s\"\n}\n", addr, suffix)
		}
		p := startAgent(t, agentOpts{cpu: 2, extra: extra, instance: "gode2e-cluster-" + suffix, sharedDir: shared})
		tc.agents = append(tc.agents, p)
		tc.http = append(tc.http, addr)
	}
	return tc
}

// health asks one agent for its health; nil when it does not answer.
func (tc *testCluster) health(i int) *api.AgentHealth {
	c, err := api.NewClient(&api.Config{Address: "http://" + tc.http[i], RetryUnavailable: -1})
	must.NoError(tc.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	h, err := c.Agent().Health(ctx)
	if err != nil {
		return nil
	}
	return h
}

// waitLeader waits until an agent other than the excluded ones leads and
// returns its index.
func (tc *testCluster) waitLeader(timeout time.Duration, exclude ...int) int {
	tc.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for i := range tc.agents {
			if slices.Contains(exclude, i) {
				continue
			}
			if h := tc.health(i); h != nil && h.Leader {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tc.t.Fatalf("no agent leads after %s", timeout)
	return -1
}

// TestCluster_Failover: three agents, a stream of submissions through all
// of them, and the leader killed with SIGKILL while it dispatches: another
// agent takes over within the session TTL plus the lock delay; then a
// follower is killed while jobs run. Every acknowledged job runs exactly
// once and its end is recorded once.
func TestCluster_Failover(t *testing.T) {
	tc := startCluster(t, 3)
	leader := tc.waitLeader(60 * time.Second)
	t.Logf("agent %d leads", leader+1)

	// Every agent serves the API: followers forward to the leader with
	// the caller's identity (root on their Unix socket).
	for i, p := range tc.agents {
		self, err := p.client.Agent().Self(context.Background())
		must.NoError(t, err, must.Sprintf("agent %d", i+1))
		must.Eq(t, "root", self.Caller.User.Name)
	}

	var (
		mu    sync.Mutex
		acked []int64
		fails []string
	)
	submit := func(i int, n int) {
		for k := 0; k < n; k++ {
			c := tc.agents[i].client
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			r, err := c.Jobs().Submit(ctx, &api.JobSpec{Name: "failover", Command: "echo run >> runs; sleep 1", Resources: &api.Resources{CPU: 0.5}})
			cancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, r.ID)
			} else {
				fails = append(fails, fmt.Sprintf("agent %d: %v", i+1, err))
			}
			mu.Unlock()
		}
	}
	// A first wave through every agent, enough to keep the leader
	// dispatching (capacity 2 cpus: 4 at a time).
	var wg sync.WaitGroup
	for i := range tc.agents {
		wg.Go(func() { submit(i, 8) })
	}
	wg.Wait()
	mu.Lock()
	must.SliceLen(t, 24, acked, must.Sprintf("every submission of the first wave is acknowledged: %v", fails))
	mu.Unlock()

	// Kill the leader while it dispatches: wait until some jobs run.
	waitSomeRunning(t, tc.agents[leader], acked[:4])
	killed := time.Now()
	tc.agents[leader].kill9()

	// Submissions continue through the survivors while they elect a new
	// leader: they are answered 503 "retry" and retried by the client
	// until the new leader serves them.
	var survivors []int
	for i := range tc.agents {
		if i != leader {
			survivors = append(survivors, i)
		}
	}
	for _, i := range survivors {
		wg.Go(func() { submit(i, 4) })
	}
	next := tc.waitLeader(3*clusterTTL+clusterDelay+10*time.Second, leader)
	takeover := time.Since(killed)
	fmt.Printf("\nfailover: agent %d killed with SIGKILL; agent %d leads %s later (session TTL %s, lock delay %s)\n",
		leader+1, next+1, takeover.Round(10*time.Millisecond), clusterTTL, clusterDelay)
	// The leader's session is tied to its heartbeat check (3s here), so
	// Consul invalidates it well before the session TTL runs out.
	must.Less(t, clusterTTL+clusterDelay, takeover, must.Sprint("takeover within the session TTL plus the lock delay"))
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	must.SliceLen(t, 32, acked, must.Sprintf("submissions to the survivors are acknowledged once a leader serves them: %v", fails))

	// Every acknowledged job runs exactly once and ends well; the two
	// survivors shared the work of recording the ends.
	p := tc.agents[next]
	follower := survivors[0]
	if follower == next {
		follower = survivors[1]
	}
	checkRanOnce(t, p, acked)
	perAgent := recordedOnce(t, tc, acked)
	fmt.Printf("job ends recorded per agent (index from 0): %v\n", perAgent)
	must.Positive(t, perAgent[next], must.Sprintf("agent %d recorded its share of the ends", next+1))
	must.Positive(t, perAgent[follower], must.Sprintf("agent %d recorded its share of the ends", follower+1))

	// Losing a follower while jobs run costs nothing either: the ends it
	// owned go to the others once Consul sees it gone.
	mu.Unlock()
	submit(next, 4)
	mu.Lock()
	must.SliceLen(t, 36, acked, must.Sprintf("submissions to the new leader: %v", fails))
	waitSomeRunning(t, p, acked[32:])
	tc.agents[follower].kill9()
	checkRanOnce(t, p, acked)
	recordedOnce(t, tc, acked)

	// Nothing else was created: the ids are all the store has.
	all, err := p.client.Jobs().List(context.Background(), &api.JobListOptions{Limit: 1000})
	must.NoError(t, err)
	must.Eq(t, len(acked), len(all), must.Sprint("no job beyond the acknowledged ones"))
}

// checkRanOnce waits until every job is over and checks it succeeded,
// having run exactly once (each run appends a line to its "runs" file).
func checkRanOnce(t *testing.T, p *agentProc, ids []int64) {
	t.Helper()
	for _, id := range ids {
		j := p.waitOver(id)
		must.Eq(t, 0, exitCode(j), must.Sprintf("job %d: %s", id, j.Status.Reason))
		must.Eq(t, "run\n", p.jobFile(id, "runs"), must.Sprintf("job %d ran exactly once", id))
	}
}

// recordedOnce checks from the agents' logs that each job's end was
// recorded by exactly one agent, and counts them per agent. An agent logs
// the record just after the store has it, so a job seen over may not be
// in the logs yet: they are read until every job is, or 10 s.
func recordedOnce(t *testing.T, tc *testCluster, ids []int64) map[int]int {
	t.Helper()
	recordedBy := recordsInLogs(tc)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); recordedBy = recordsInLogs(tc) {
		missing := false
		for _, id := range ids {
			missing = missing || len(recordedBy[id]) == 0
		}
		if !missing {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	perAgent := map[int]int{}
	for _, id := range ids {
		must.SliceLen(t, 1, recordedBy[id], must.Sprintf("job %d's end recorded once", id))
		perAgent[recordedBy[id][0]]++
	}
	return perAgent
}

// recordsInLogs lists, per job, the agents that logged recording its end.
func recordsInLogs(tc *testCluster) map[int64][]int {
	recordedBy := map[int64][]int{}
	for i, a := range tc.agents {
		for _, line := range strings.Split(a.log.String(), "\n") {
			if !strings.Contains(line, "recorded job end") {
				continue
			}
			var id int64
			if _, after, ok := strings.Cut(line, "job_id="); ok {
				fmt.Sscan(after, &id)
			}
			recordedBy[id] = append(recordedBy[id], i)
		}
	}
	return recordedBy
}

// waitSomeRunning waits until one of ids runs.
func waitSomeRunning(t *testing.T, p *agentProc, ids []int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range ids {
			j, err := p.client.Jobs().Info(context.Background(), id)
			if err == nil && j.Status.Primary == api.StateRunning {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("none of %v runs", ids)
}

// TestCluster_ForwardedIdentity: a follower forwards its Unix socket
// caller's identity, and the leader refuses identities nobody signed.
func TestCluster_ForwardedIdentity(t *testing.T) {
	tc := startCluster(t, 2)
	leader := tc.waitLeader(60 * time.Second)
	follower := 1 - leader

	// god-alice on the follower's socket is god-alice on the leader.
	dir := userDir(t, "god-alice")
	must.NoError(t, os.WriteFile(filepath.Join(dir, "t.hcl"), []byte("job \"who\" {\n  command = \"id -un; sleep 300\"\n}\n"), 0o644))
	out, errOut, code := god(t, "god-alice", "unix://"+tc.agents[follower].socket, dir, "job", "run", "t.hcl")
	must.Eq(t, 0, code, must.Sprintf("stdout %s stderr %s", out, errOut))
	id := submittedID(t, out)
	j, err := tc.agents[leader].client.Jobs().Info(context.Background(), id)
	must.NoError(t, err)
	must.Eq(t, "god-alice", j.User.Name)
	tc.agents[leader].waitRunning(id)
	// Running is recorded when the container starts, before its script
	// speaks: on a loaded machine a stop could come first.
	waitFile(t, tc.agents[leader], id, "god.log", "god-alice")
	// A session opened on the follower reaches the job through the
	// leader, as alice.
	out, errOut, code = god(t, "god-alice", "unix://"+tc.agents[follower].socket, dir, "job", "exec", fmt.Sprint(id), "--", "id", "-un")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "god-alice\n", out)

	// bob cannot act on alice's job through either agent.
	for _, p := range tc.agents {
		_, errOut, code := god(t, "god-bob", "unix://"+p.socket, userDir(t, "god-bob"), "job", "stop", fmt.Sprint(id))
		must.Eq(t, 1, code)
		must.StrContains(t, errOut, "permission denied")
	}
	// alice stops it through the follower; it ran as her.
	_, errOut, code = god(t, "god-alice", "unix://"+tc.agents[follower].socket, dir, "job", "stop", fmt.Sprint(id))
	must.Eq(t, 0, code, must.Sprint(errOut))
	tc.agents[leader].waitOver(id)
	// Its logs, read through the follower (forwarded, streamed back).
	out, errOut, code = god(t, "god-alice", "unix://"+tc.agents[follower].socket, dir, "job", "logs", fmt.Sprint(id))
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.Eq(t, "god-alice\n", out)

	// A forged forwarded identity (claiming root) sent to the leader's
	// TCP port is refused, and so is one signed for another request.
	forged := []string{
		"godfwd1.eyJ1aWQiOjAsImtub3duIjp0cnVlLCJ1bml4Ijp0cnVlfQ.AAAA",
		"god1.bogus",
		"garbage",
	}
	for _, h := range forged {
		req, err := http.NewRequest(http.MethodGet, "http://"+tc.http[leader]+"/v1/jobs", nil)
		must.NoError(t, err)
		req.Header.Set("X-God-Forwarded-For", h)
		resp, err := http.DefaultClient.Do(req)
		must.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		must.Eq(t, http.StatusUnauthorized, resp.StatusCode, must.Sprintf("header %q: %s", h, body))
	}

	// Users find the API through Consul DNS: both agents answer for
	// <service_prefix>-api.service.consul, and each one's health check
	// passes.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", tc.consul.DNSPort))
	}}
	var ports []string
	deadline := time.Now().Add(20 * time.Second)
	for len(ports) < 2 && time.Now().Before(deadline) {
		ports = nil
		_, srvs, err := resolver.LookupSRV(context.Background(), "", "", tc.service+"-api.service.consul.")
		if err == nil {
			for _, r := range srvs {
				ports = append(ports, fmt.Sprint(r.Port))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	must.SliceLen(t, 2, ports, must.Sprint("both agents' APIs resolve"))
	for _, port := range ports {
		c, err := api.NewClient(&api.Config{Address: "http://127.0.0.1:" + port})
		must.NoError(t, err)
		h, err := c.Agent().Health(context.Background())
		must.NoError(t, err)
		must.Eq(t, "ok", h.Status)
		must.Eq(t, fmt.Sprintf("god-%d", leader+1), h.LeaderName)
	}

	// Members and the leader, as an admin (root) sees them.
	ms, err := tc.agents[follower].client.Operator().Members(context.Background())
	must.NoError(t, err)
	must.SliceLen(t, 2, ms)
	leaders := 0
	for _, m := range ms {
		if m.Leader {
			leaders++
			must.Eq(t, fmt.Sprintf("god-%d", leader+1), m.Name)
		}
		must.SliceLen(t, 3, m.Roles, must.Sprintf("%s registers api, scheduler and watcher", m.Name))
	}
	must.Eq(t, 1, leaders)
	// Only admins list members.
	_, errOut, code = god(t, "god-alice", "unix://"+tc.agents[follower].socket, dir, "operator", "members")
	must.NotEq(t, 0, code)
	must.StrContains(t, errOut, "only admins")
}

// TestCluster_FencedLeaderStepsDown: once a newer epoch is claimed in the
// store, the leader's writes are refused (503, nothing stored) and it
// steps down; the next election serves the retried request.
func TestCluster_FencedLeaderStepsDown(t *testing.T) {
	tc := startCluster(t, 1)
	tc.waitLeader(60 * time.Second)
	ctx := context.Background()

	// An agent without the consul block refuses the cluster's store: it
	// would schedule beside the leader.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alone.hcl")
	must.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\nsocket = %q\nstore \"redis\" {\n  address = %q\n}\n",
		dir, filepath.Join(dir, "god.sock"), tc.redis.Addr)), 0o644))
	actx, cancel := context.WithTimeout(ctx, 20*time.Second) // if it starts, stop it
	defer cancel()
	out, err := exec.CommandContext(actx, godBin, "agent", "-config", cfg).CombinedOutput()
	must.Error(t, err, must.Sprintf("the standalone agent started: %s", out))
	must.StrContains(t, string(out), "is shared by a cluster of agents (leader god-1)")

	cc, err := tc.consul.Client()
	must.NoError(t, err)
	pair, _, err := cc.KV().Get(tc.kv+"/leader/epoch", nil)
	must.NoError(t, err)
	must.NotNil(t, pair)
	var epoch uint64
	fmt.Sscan(string(pair.Value), &epoch)
	must.Positive(t, epoch)

	// Another leader's claim, behind this one's back.
	st, err := redis.Open(ctx, redis.Config{Address: tc.redis.Addr})
	must.NoError(t, err)
	defer st.Close()
	_, err = st.Fence(ctx, epoch+1)
	must.NoError(t, err)

	once, err := api.NewClient(&api.Config{Address: "unix://" + tc.agents[0].socket, RetryUnavailable: -1})
	must.NoError(t, err)
	_, err = once.Jobs().Submit(ctx, &api.JobSpec{Name: "fenced", Command: "true"})
	var ae *api.APIError
	must.True(t, errors.As(err, &ae), must.Sprintf("got %v", err))
	must.Eq(t, http.StatusServiceUnavailable, ae.StatusCode)
	must.StrContains(t, ae.Message, "no longer the leader")
	jobs, err := st.List(ctx, store.Filter{})
	must.NoError(t, err)
	must.SliceEmpty(t, jobs, must.Sprint("the fenced write stored nothing"))

	// The agent stepped down and is elected again with a new epoch; the
	// client's retries reach it.
	id := tc.agents[0].submit(api.JobSpec{Name: "after", Command: "true"})
	must.Eq(t, 0, exitCode(tc.agents[0].waitOver(id)))
	pair, _, err = cc.KV().Get(tc.kv+"/leader/epoch", nil)
	must.NoError(t, err)
	var now uint64
	fmt.Sscan(string(pair.Value), &now)
	must.Greater(t, epoch, now)
	must.StrContains(t, tc.agents[0].log.String(), "no longer leading")
}
