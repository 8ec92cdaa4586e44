package redis_test

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

// server is a redis-server started by a test on 127.0.0.1, with its data in
// a temp dir; it is killed when the test ends.
type server struct {
	t    testing.TB
	dir  string
	addr string
	args []string
	// tls, when set, serves TLS only, and is the clients' configuration.
	tls  *tls.Config
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// durable are the settings the store requires: every write in the AOF,
// fsynced before the reply; no RDB snapshots.
var durable = []string{"--appendonly", "yes", "--appendfsync", "always"}

// newServer prepares a server, or skips the test (fails it under CI) when
// redis-server is not installed.
func newServer(t testing.TB, settings ...string) *server {
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
	s := &server{t: t, dir: t.TempDir(), args: append(append([]string{}, durable...), settings...)}
	s.args = append([]string{bin}, s.args...)
	return s
}

// startServer starts redis-server with the given settings (durable ones
// unless overridden), or skips (fails under CI) when it is not installed.
func startServer(t testing.TB, settings ...string) *server {
	t.Helper()
	s := newServer(t, settings...)
	s.start()
	t.Cleanup(s.kill)
	return s
}

// start runs the server on its dir, on a new free port (the old one may
// have been taken while it was down), and waits until it answers.
func (s *server) start() {
	s.t.Helper()
	var lastErr error
	for range 5 {
		if lastErr = s.try(); lastErr == nil {
			return
		}
	}
	s.t.Fatalf("redis-server did not start: %v", lastErr)
}

func (s *server) try() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile := filepath.Join(s.dir, "redis.log")
	ports := []string{"--port", strconv.Itoa(port)}
	if s.tls != nil {
		ports = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}
	args := append(append(append([]string{}, s.args[1:]...), ports...),
		"--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--daemonize", "no", "--logfile", logFile)
	s.cmd = exec.Command(s.args[0], args...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	s.done = done
	c := goredis.NewClient(&goredis.Options{Addr: s.addr, MaxRetries: -1, DisableIdentity: true, TLSConfig: s.tls})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(logFile)
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
	s.kill()
	return fmt.Errorf("redis-server on %s did not answer within 10s: %v", s.addr, err)
}

// kill stops the server with SIGKILL: no chance to write anything more.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// client is a plain client of the server, to look at or change it from
// outside the store.
func (s *server) client(t testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.addr, MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// quietLogger drops go-redis's log lines: the tests kill servers on
// purpose, and the client logs every dial that fails after it.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	goredis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}
