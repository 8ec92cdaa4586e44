package cluster_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/cluster"
)

// consulCache is where scripts/testenv-consul.sh builds Consul 1.16.3.
const consulCache = "/var/cache/god/consul-1.16.3/consul"

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

// unavailable skips when Consul cannot be run here, and fails under CI,
// which installs it with `make testenv`.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the Consul tests: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), msg)
	t.Skipf("skipping: %s", msg)
}

// consulBinary finds consul: $GOD_CONSUL, the testenv cache, then PATH.
func consulBinary() (string, error) {
	if p := os.Getenv("GOD_CONSUL"); p != "" {
		return p, nil
	}
	if _, err := os.Stat(consulCache); err == nil {
		return consulCache, nil
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p, nil
	}
	return "", errors.New("no consul binary: set GOD_CONSUL, or run scripts/testenv-consul.sh as root to build Consul 1.16.3 into " + consulCache)
}

// testConsul is a Consul dev agent on loopback with its own ports.
type testConsul struct {
	Addr    string // host:port of the HTTP API
	DNSPort int
	cmd     *exec.Cmd
	dir     string
	done    chan struct{}
}

// startConsul runs a dev agent; t is only used to skip or fail.
func startConsul(t *testing.T) *testConsul {
	t.Helper()
	bin, err := consulBinary()
	if err != nil {
		unavailable(t, "%v", err)
	}
	ports, err := freePorts(6)
	must.NoError(t, err)
	dir, err := os.MkdirTemp("", "god-consul-")
	must.NoError(t, err)
	config := fmt.Sprintf(`disable_update_check = true
node_name = "god-test-%s"
ports {
  http     = %d
  dns      = %d
  serf_lan = %d
  serf_wan = %d
  server   = %d
  grpc     = %d
  grpc_tls = -1
}
`, randomSuffix(), ports[0], ports[1], ports[2], ports[3], ports[4], ports[5])
	must.NoError(t, os.WriteFile(filepath.Join(dir, "config.hcl"), []byte(config), 0o600))
	logFile, err := os.Create(filepath.Join(dir, "consul.log"))
	must.NoError(t, err)

	cmd := exec.Command(bin, "agent", "-dev", "-client=127.0.0.1", "-bind=127.0.0.1",
		"-config-file="+filepath.Join(dir, "config.hcl"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		unavailable(t, "starting %s: %v", bin, err)
	}
	tc := &testConsul{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), DNSPort: ports[1], cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(tc.done)
	}()
	if err := tc.waitReady(60 * time.Second); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "consul.log"))
		tc.stop()
		t.Fatalf("consul dev agent did not come up: %v\n%s", err, tail(string(out), 40))
	}
	return tc
}

// waitReady waits for a raft leader and for the agent's node to be in the
// catalog with a passing serfHealth: sessions need both.
func (tc *testConsul) waitReady(timeout time.Duration) error {
	client, err := api.NewClient(&api.Config{Address: tc.Addr})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-tc.done:
			return errors.New("the agent exited")
		default:
		}
		last = func() error {
			leader, err := client.Status().Leader()
			if err != nil || leader == "" {
				return fmt.Errorf("no raft leader yet (%v)", err)
			}
			self, err := client.Agent().NodeName()
			if err != nil {
				return err
			}
			checks, _, err := client.Health().Node(self, nil)
			if err != nil {
				return err
			}
			for _, c := range checks {
				if c.CheckID == "serfHealth" && c.Status == api.HealthPassing {
					return nil
				}
			}
			return errors.New("the node is not healthy in the catalog yet")
		}()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// kill ends the agent at once, like a crash.
func (tc *testConsul) kill() {
	_ = tc.cmd.Process.Kill()
	<-tc.done
}

func (tc *testConsul) stop() {
	if tc == nil {
		return
	}
	_ = tc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tc.done:
	case <-time.After(10 * time.Second):
		tc.kill()
	}
	os.RemoveAll(tc.dir)
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
	s.tc.stop()
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

// freePorts reserves n distinct loopback ports, then frees them for the
// agent (TCP; Consul's UDP listeners take the same numbers).
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

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
