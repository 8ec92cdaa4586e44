// Package consultest runs a real Consul dev agent for tests: Consul 1.16.3
// (the last MPL release), built into /var/cache/god by
// scripts/testenv-consul.sh. A test skips when no binary is found, and
// fails instead under CI (which runs `make testenv`).
package consultest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Cache is where scripts/testenv-consul.sh builds Consul 1.16.3.
const Cache = "/var/cache/god/consul-1.16.3/consul"

// Binary finds consul: $GOD_CONSUL, the testenv cache, then PATH.
func Binary() (string, error) {
	if p := os.Getenv("GOD_CONSUL"); p != "" {
		return p, nil
	}
	if _, err := os.Stat(Cache); err == nil {
		return Cache, nil
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p, nil
	}
	return "", errors.New("no consul binary: set GOD_CONSUL, or run scripts/testenv-consul.sh as root to build Consul 1.16.3 into " + Cache)
}

// Unavailable skips when Consul cannot be run here, and fails under CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the Consul tests: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), msg)
	t.Skipf("skipping: %s", msg)
}

// Server is a Consul dev agent on loopback with its own ports.
type Server struct {
	Addr    string // host:port of the HTTP API
	DNSPort int
	cmd     *exec.Cmd
	dir     string
	done    chan struct{}
}

// Start runs a dev agent and waits until sessions work; the caller stops
// it (Stop), t is only used to skip or fail.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		Unavailable(t, "%v", err)
	}
	ports, err := FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "god-consul-")
	if err != nil {
		t.Fatal(err)
	}
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
`, RandomSuffix(), ports[0], ports[1], ports[2], ports[3], ports[4], ports[5])
	if err := os.WriteFile(filepath.Join(dir, "config.hcl"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "consul.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "agent", "-dev", "-client=127.0.0.1", "-bind=127.0.0.1",
		"-config-file="+filepath.Join(dir, "config.hcl"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		os.RemoveAll(dir)
		Unavailable(t, "starting %s: %v", bin, err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), DNSPort: ports[1], cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.WaitReady(60 * time.Second); err != nil {
		out, _ := os.ReadFile(filepath.Join(dir, "consul.log"))
		s.Stop()
		t.Fatalf("consul dev agent did not come up: %v\n%s", err, Tail(string(out), 40))
	}
	return s
}

// WaitReady waits for a raft leader and for the agent's node to be in the
// catalog with a passing serfHealth: sessions need both.
func (s *Server) WaitReady(timeout time.Duration) error {
	client, err := api.NewClient(&api.Config{Address: s.Addr})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
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

// Client talks to the agent directly.
func (s *Server) Client() (*api.Client, error) {
	return api.NewClient(&api.Config{Address: s.Addr})
}

// Done is closed when the agent has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Kill ends the agent at once, like a crash.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Stop ends the agent and removes its directory.
func (s *Server) Stop() {
	if s == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.Kill()
	}
	os.RemoveAll(s.dir)
}

// FreePorts reserves n distinct loopback ports, then frees them for the
// agent (TCP; Consul's UDP listeners take the same numbers).
func FreePorts(n int) ([]int, error) {
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

// RandomSuffix makes names and key prefixes unique to a test.
func RandomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Tail is the last lines of s, for logs in failure messages.
func Tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
