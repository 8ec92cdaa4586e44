package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/cluster"
	"github.com/godocker/god/agent/cluster/consultest"
)

// helperEnv makes the test binary a leader contender in its own process,
// so that a test can kill a leader without letting it release anything.
const helperEnv = "GOD_CLUSTER_TEST_HELPER"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runHelper(cfg))
	}
	code := m.Run()
	shared.stop()
	os.Exit(code)
}

// testConsul is a Consul dev agent for the tests.
type testConsul = consultest.Server

func startConsul(t *testing.T) *testConsul { return consultest.Start(t) }

func unavailable(t *testing.T, format string, args ...any) {
	consultest.Unavailable(t, format, args...)
}

// shared is one dev agent for the tests that can share it (each uses its
// own key and service prefixes); stopped by TestMain.
var shared sharedConsul

type sharedConsul struct {
	mu sync.Mutex
	tc *testConsul
}

func (s *sharedConsul) get(t *testing.T) *testConsul {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tc == nil {
		s.tc = startConsul(t)
	}
	return s.tc
}

func (s *sharedConsul) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tc.Stop()
}

// consulClient talks to tc directly, to look at or disturb what the
// package under test did.
func consulClient(t *testing.T, tc *testConsul) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: tc.Addr})
	must.NoError(t, err)
	return c
}

// newCluster returns a Cluster on tc; prefix isolates tests from each other.
func newCluster(t *testing.T, tc *testConsul, prefix, name string, edit func(*cluster.Config)) *cluster.Cluster {
	t.Helper()
	cfg := cluster.Config{
		Address:       tc.Addr,
		KVPrefix:      "test/" + prefix,
		ServicePrefix: prefix,
		NodeName:      name,
		Advertise:     "127.0.0.1:4646",
		SessionTTL:    10 * time.Second, // Consul's minimum
		LockDelay:     time.Second,
		CheckTTL:      3 * time.Second,
		CheckInterval: time.Second,
		CheckTimeout:  time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := cluster.New(cfg, hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Debug, Output: testWriter{t}}))
	must.NoError(t, err)
	return c
}

// testWriter sends logs to t.Log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a goroutine may log after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func freePorts(n int) ([]int, error) { return consultest.FreePorts(n) }

func randomSuffix() string { return consultest.RandomSuffix() }

func tail(s string, lines int) string { return consultest.Tail(s, lines) }

// runHelper is a contender in its own process: it prints "elected EPOCH"
// when it leads and exits when its stdin closes (the test ended).
func runHelper(spec string) int {
	// spec: address|kv prefix|name|session TTL|lock delay
	f := strings.Split(spec, "|")
	if len(f) != 5 {
		fmt.Fprintln(os.Stderr, "bad helper spec", spec)
		return 2
	}
	ttl, _ := time.ParseDuration(f[3])
	delay, _ := time.ParseDuration(f[4])
	c, err := cluster.New(cluster.Config{Address: f[0], KVPrefix: f[1], NodeName: f[2], Advertise: "127.0.0.1:1",
		SessionTTL: ttl, LockDelay: delay}, hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Debug}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		cancel()
	}()
	c.Lead(ctx, func(ctx context.Context, epoch uint64) {
		fmt.Println("elected " + strconv.FormatUint(epoch, 10))
		<-ctx.Done()
	})
	return 0
}
