package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/cluster"
)

// term is one leadership as onElected saw it.
type term struct {
	name       string
	epoch      uint64
	start, end time.Time
	cause      error
}

// recorder watches the onElected calls of several contenders and notes
// any moment where two of them lead at once.
type recorder struct {
	mu      sync.Mutex
	active  int
	overlap []string

	elected chan *term
	deposed chan *term
}

func newRecorder() *recorder {
	return &recorder{elected: make(chan *term, 32), deposed: make(chan *term, 32)}
}

func (r *recorder) onElected(name string) func(context.Context, uint64) {
	return func(ctx context.Context, epoch uint64) {
		tm := &term{name: name, epoch: epoch, start: time.Now()}
		r.mu.Lock()
		r.active++
		if r.active > 1 {
			r.overlap = append(r.overlap, name+" elected while another led")
		}
		r.mu.Unlock()
		r.elected <- tm

		<-ctx.Done()
		tm.end, tm.cause = time.Now(), context.Cause(ctx)
		r.mu.Lock()
		r.active--
		r.mu.Unlock()
		r.deposed <- tm
	}
}

func (r *recorder) overlaps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overlap
}

// contender runs Lead until stopped.
type contender struct {
	name   string
	c      *cluster.Cluster
	cancel context.CancelFunc
	done   chan struct{}
}

func startContender(t *testing.T, c *cluster.Cluster, rec *recorder) *contender {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ct := &contender{name: c.Name(), c: c, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ct.done)
		c.Lead(ctx, rec.onElected(c.Name()))
	}()
	t.Cleanup(ct.stop)
	return ct
}

func (ct *contender) stop() {
	ct.cancel()
	<-ct.done
}

func waitTerm(t *testing.T, ch <-chan *term, within time.Duration, what string) *term {
	t.Helper()
	select {
	case tm := <-ch:
		return tm
	case <-time.After(within):
		t.Fatalf("no %s within %s", what, within)
		return nil
	}
}

func TestLead_OneLeaderAtATimeAndEpochsIncrease(t *testing.T) {
	tc := shared.get(t)
	prefix := "elect" + randomSuffix()
	direct := consulClient(t, tc)
	rec := newRecorder()
	contenders := map[string]*contender{}
	for _, name := range []string{"alpha", "beta"} {
		contenders[name] = startContender(t, newCluster(t, tc, prefix, name, nil), rec)
	}
	observer := newCluster(t, tc, prefix, "observer", nil)

	leader := waitTerm(t, rec.elected, 30*time.Second, "first leader")
	name, address, epoch, err := observer.Leader(context.Background())
	must.NoError(t, err)
	must.Eq(t, leader.name, name)
	must.Eq(t, "127.0.0.1:4646", address)
	must.Eq(t, leader.epoch, epoch)

	// Three times, invalidate the leader's session behind its back, as
	// Consul does when the leader's node fails its health check.
	for round := 1; round <= 3; round++ {
		pair, _, err := direct.KV().Get("test/"+prefix+"/leader/lock", nil)
		must.NoError(t, err)
		must.NotNil(t, pair)
		destroyed := time.Now()
		_, err = direct.Session().Destroy(pair.Session, nil)
		must.NoError(t, err)

		deposed := waitTerm(t, rec.deposed, 30*time.Second, "deposition after the session was destroyed")
		must.Eq(t, leader, deposed, must.Sprint("the deposed one must be the leader"))
		must.True(t, errors.Is(deposed.cause, cluster.ErrLockLost) || errors.Is(deposed.cause, cluster.ErrSessionInvalidated),
			must.Sprintf("cause: %v", deposed.cause))
		t.Logf("round %d: %s (epoch %d) deposed %s after its session was destroyed (cause: %v)",
			round, deposed.name, deposed.epoch, deposed.end.Sub(destroyed), deposed.cause)

		next := waitTerm(t, rec.elected, 30*time.Second, "new leader")
		must.Greater(t, leader.epoch, next.epoch)
		t.Logf("round %d: %s took over with epoch %d, %s after the destroy (lock delay 1s)",
			round, next.name, next.epoch, next.start.Sub(destroyed))
		name, _, epoch, err := observer.Leader(context.Background())
		must.NoError(t, err)
		must.Eq(t, next.name, name)
		must.Eq(t, next.epoch, epoch)
		leader = next
	}

	// A leader that shuts down releases the lock: the other one takes over
	// without waiting for a TTL or a lock delay.
	stopped := time.Now()
	contenders[leader.name].stop()
	deposed := waitTerm(t, rec.deposed, 10*time.Second, "deposition on shutdown")
	must.ErrorIs(t, deposed.cause, context.Canceled)
	next := waitTerm(t, rec.elected, 30*time.Second, "leader after a shutdown")
	must.NotEq(t, leader.name, next.name)
	must.Greater(t, leader.epoch, next.epoch)
	t.Logf("graceful handover from %s to %s took %s", leader.name, next.name, next.start.Sub(stopped))

	must.SliceEmpty(t, rec.overlaps())
}

func TestLead_TakeoverAfterTheLeaderProcessDies(t *testing.T) {
	tc := shared.get(t)
	prefix := "crash" + randomSuffix()
	const ttl, lockDelay = 10 * time.Second, 2 * time.Second

	// The first leader is another process, killed without any chance to
	// release the lock or destroy its session.
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperEnv+"="+strings.Join(
		[]string{tc.Addr, "test/" + prefix, "doomed", ttl.String(), lockDelay.String()}, "|"))
	stdin, err := helper.StdinPipe()
	must.NoError(t, err)
	stdout, err := helper.StdoutPipe()
	must.NoError(t, err)
	helper.Stderr = testWriter{t}
	must.NoError(t, helper.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = helper.Process.Kill()
		_ = helper.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	var helperEpoch uint64
	select {
	case line := <-lines:
		epoch, ok := strings.CutPrefix(line, "elected ")
		must.True(t, ok, must.Sprintf("helper said %q", line))
		helperEpoch, err = strconv.ParseUint(epoch, 10, 64)
		must.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the helper process was not elected")
	}

	rec := newRecorder()
	startContender(t, newCluster(t, tc, prefix, "survivor", func(c *cluster.Config) {
		c.SessionTTL, c.LockDelay = ttl, lockDelay
	}), rec)
	select {
	case tm := <-rec.elected:
		t.Fatalf("%s was elected while the helper leads", tm.name)
	case <-time.After(2 * time.Second):
	}

	killed := time.Now()
	must.NoError(t, helper.Process.Kill())
	next := waitTerm(t, rec.elected, 2*ttl+lockDelay+30*time.Second, "takeover after the leader died")
	takeover := next.start.Sub(killed)
	t.Logf("takeover after the leader process died: %s (session TTL %s, which Consul may double, + lock delay %s)",
		takeover.Round(time.Millisecond), ttl, lockDelay)
	must.Greater(t, helperEpoch, next.epoch)
	// Safety, not speed: a leader that is alive but cut off from Consul
	// steps down one TTL after its last renewal, so nobody may take over
	// earlier than that.
	must.GreaterEq(t, ttl, takeover)
}

func TestLead_StepsDownWhenConsulIsUnreachable(t *testing.T) {
	tc := startConsul(t) // its own agent: this test kills it
	t.Cleanup(tc.Stop)
	const ttl = 10 * time.Second
	rec := newRecorder()
	startContender(t, newCluster(t, tc, "unreach", "alone", nil), rec)
	leader := waitTerm(t, rec.elected, 30*time.Second, "leader")

	killed := time.Now()
	tc.Kill()
	deposed := waitTerm(t, rec.deposed, 3*ttl, "step-down after Consul died")
	must.Eq(t, leader, deposed)
	must.ErrorIs(t, deposed.cause, cluster.ErrSessionExpired)
	elapsed := deposed.end.Sub(killed)
	t.Logf("stepped down %s after Consul died (session TTL %s): %v", elapsed.Round(time.Millisecond), ttl, deposed.cause)
	// Safety, not speed: Consul may invalidate a session one TTL after its
	// last renewal, and another agent may lock one lock delay (1s here)
	// later: the leader must have stepped down by then.
	must.Less(t, ttl+time.Second, elapsed)
}

func TestLeader_NoneElected(t *testing.T) {
	tc := shared.get(t)
	c := newCluster(t, tc, "none"+randomSuffix(), "idle", nil)
	_, _, _, err := c.Leader(context.Background())
	must.ErrorIs(t, err, cluster.ErrNoLeader)
}

func TestLead_RefusesAForeignKey(t *testing.T) {
	tc := shared.get(t)
	prefix := "foreign" + randomSuffix()
	_, err := consulClient(t, tc).KV().Put(&api.KVPair{Key: "test/" + prefix + "/leader/lock", Value: []byte("someone else's")}, nil)
	must.NoError(t, err)
	c := newCluster(t, tc, prefix, "careful", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c.Lead(ctx, func(context.Context, uint64) { t.Error("elected on a key that is not a lock") })
	pair, _, err := consulClient(t, tc).KV().Get("test/"+prefix+"/leader/lock", nil)
	must.NoError(t, err)
	must.Eq(t, "someone else's", string(pair.Value))
}

// TestLead_HeartbeatStopsLeaderLoses: the leader's session is tied to its
// scheduler heartbeat check, so a leader whose heartbeat stops (a dead
// process) loses the lock once the check's TTL runs out, well before the
// session TTL would, and another agent takes over after the lock delay.
func TestLead_HeartbeatStopsLeaderLoses(t *testing.T) {
	tc := shared.get(t)
	prefix := "beat" + randomSuffix()
	ctx := context.Background()
	rec := newRecorder()
	beats := map[string]context.CancelFunc{}
	for _, name := range []string{"one", "two"} {
		c := newCluster(t, tc, prefix, name, nil) // check TTL 3s, session TTL 10s, lock delay 1s
		must.NoError(t, c.Register(ctx, []string{cluster.RoleScheduler}, ""))
		t.Cleanup(func() { _ = c.Deregister(context.Background()) })
		hctx, stop := context.WithCancel(ctx)
		t.Cleanup(stop)
		beats[name] = stop
		go c.Heartbeat(hctx, nil)
		startContender(t, c, rec)
	}
	first := waitTerm(t, rec.elected, 30*time.Second, "first leader")
	stopped := time.Now()
	beats[first.name]() // its session keeps being renewed: only the check stops
	lost := waitTerm(t, rec.deposed, 20*time.Second, "deposition")
	must.Eq(t, first.name, lost.name)
	next := waitTerm(t, rec.elected, 20*time.Second, "next leader")
	must.NotEq(t, first.name, next.name)
	took := next.start.Sub(stopped)
	t.Logf("heartbeat stopped; deposed after %s, next leader after %s", lost.end.Sub(stopped).Round(time.Millisecond), took.Round(time.Millisecond))
	must.Less(t, 10*time.Second, took, must.Sprint("before the session TTL (10s) runs out"))
	must.Greater(t, first.epoch, next.epoch)
}
