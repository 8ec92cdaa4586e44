// Package redistest starts real redis-server processes for tests: one per
// call, on 127.0.0.1 with a free port and its data in a temporary directory,
// configured durably (AOF on, fsynced on every write) as the Redis job store
// requires. Tests of any package can run a store on it.
//
// Without redis-server (Debian package redis-server, installed by
// scripts/testenv-redis.sh), New and Start skip the test with the reason, or
// fail it when the CI environment variable is set.
package redistest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is a redis-server started by a test, with its data in a temp dir;
// it is killed when the test ends.
type Server struct {
	// Addr is the host:port the server listens on (a new one at each Start).
	Addr string
	// TLS, when set before Start, makes the server serve TLS only; it is
	// the clients' configuration.
	TLS *tls.Config

	t    testing.TB
	dir  string
	bin  string
	args []string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Durable are the settings the store requires: every write in the AOF,
// fsynced before the reply.
var Durable = []string{"--appendonly", "yes", "--appendfsync", "always"}

// New prepares a server with the given redis-server settings (after the
// durable ones, so they may override them) without starting it, or skips
// the test (fails it under CI) when redis-server is not installed.
func New(t testing.TB, settings ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server is not installed (run scripts/testenv-redis.sh as root)"
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the Redis store tests: %s", msg)
		}
		fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), msg)
		t.Skip(msg)
	}
	s := &Server{t: t, dir: t.TempDir(), bin: bin, args: append(append([]string{}, Durable...), settings...)}
	t.Cleanup(s.Kill)
	return s
}

// Start starts a server with the given settings and returns it once it
// answers.
func Start(t testing.TB, settings ...string) *Server {
	t.Helper()
	s := New(t, settings...)
	s.Start()
	return s
}

// Start runs the server on its dir (again, after Kill), on a new free port
// (the old one may have been taken while it was down), and waits until it
// answers.
func (s *Server) Start() {
	s.t.Helper()
	var lastErr error
	for range 5 {
		if lastErr = s.try(); lastErr == nil {
			return
		}
	}
	s.t.Fatalf("redis-server did not start: %v", lastErr)
}

// Restart runs a killed server again on its dir and its port, as a server
// restarted in place: its clients reconnect to the same address.
func (s *Server) Restart() {
	s.t.Helper()
	_, p, _ := net.SplitHostPort(s.Addr)
	port, _ := strconv.Atoi(p)
	var lastErr error
	for range 50 {
		if lastErr = s.tryPort(port); lastErr == nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // the port may linger a moment
	}
	s.t.Fatalf("redis-server did not restart on %s: %v", s.Addr, lastErr)
}

func (s *Server) try() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return s.tryPort(port)
}

func (s *Server) tryPort(port int) error {
	var err error
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile := filepath.Join(s.dir, "redis.log")
	ports := []string{"--port", strconv.Itoa(port)}
	if s.TLS != nil {
		ports = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}
	args := append(append(append([]string{}, s.args...), ports...),
		"--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--daemonize", "no", "--logfile", logFile)
	s.cmd = exec.Command(s.bin, args...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	s.done = done
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr, MaxRetries: -1, DisableIdentity: true, TLSConfig: s.TLS})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(logFile)
			s.cmd = nil
			return fmt.Errorf("redis-server exited: %s", log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = c.Ping(ctx).Err()
		cancel()
		var refused goredis.Error // NOAUTH: up, and wants a password
		if err == nil || errors.As(err, &refused) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill()
	return fmt.Errorf("redis-server on %s did not answer within 10s: %v", s.Addr, err)
}

// Kill stops the server with SIGKILL: no chance to write anything more.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Client is a plain client of the server, to look at or change it from
// outside the store; it is closed when the test ends.
func (s *Server) Client(t testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr, MaxRetries: -1, DisableIdentity: true, TLSConfig: s.TLS})
	t.Cleanup(func() { c.Close() })
	return c
}
