package jobstore_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/jobstore"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/redis/redistest"
	"github.com/godocker/god/store/storetest"
)

// envChild, when set, makes the test binary a child agent process that
// opens the Redis store at this address, says "open", and waits to be
// killed.
const envChild = "GOD_JOBSTORE_CHILD"

const childLockTTL = 3 * time.Second

func TestMain(m *testing.M) {
	if addr := os.Getenv(envChild); addr != "" {
		st, err := jobstore.Open(context.Background(), redisConfig(addr, os.TempDir()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("open", st)
		select {}
	}
	os.Exit(m.Run())
}

func redisConfig(addr, dataDir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.Store = &config.Store{Backend: "redis", Address: addr, LockTTL: childLockTTL}
	if err := cfg.Finalize(); err != nil {
		panic(err)
	}
	return cfg
}

func TestOpenSQLite(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	must.NoError(t, cfg.Finalize())
	st, err := jobstore.Open(t.Context(), cfg)
	must.NoError(t, err)
	must.Eq(t, "sqlite "+filepath.Join(cfg.DataDir, "store"), st.String())
	_, ok := st.Store.(store.Records)
	must.True(t, ok)
	must.Nil(t, st.Lost())
	must.NoError(t, st.Close())
	must.NoError(t, st.Close())
	_, err = os.Stat(filepath.Join(cfg.DataDir, "store"))
	must.NoError(t, err)
}

func TestOpenRedis(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret")
	ctx := t.Context()
	cfg := redisConfig(srv.Addr, t.TempDir())
	pwFile := filepath.Join(t.TempDir(), "pw")
	must.NoError(t, os.WriteFile(pwFile, []byte("s3cret\n"), 0o600))
	cfg.Store.PasswordFile = pwFile
	cfg.Store.Prefix = "site1:"
	st, err := jobstore.Open(ctx, cfg)
	must.NoError(t, err)
	must.Eq(t, fmt.Sprintf(`redis %s (prefix "site1:")`, srv.Addr), st.String())
	rec, ok := st.Store.(store.Records)
	must.True(t, ok)
	must.NoError(t, rec.PutRecord(ctx, &store.Record{Kind: store.KindUser, Key: "alice"}))
	j := storetest.NewJob(1000, 1)
	must.NoError(t, st.Store.Create(ctx, j))
	must.NoError(t, st.Close())
	must.Nil(t, st.LostErr())

	// Closed, the lock is released: the next agent starts at once and
	// finds the jobs.
	st, err = jobstore.Open(ctx, cfg)
	must.NoError(t, err)
	got, err := st.Store.Get(ctx, j.ID)
	must.NoError(t, err)
	storetest.RequireSameJob(t, j, got)
	must.NoError(t, st.Close())

	cfg.Store.PasswordFile = filepath.Join(t.TempDir(), "missing")
	_, err = jobstore.Open(ctx, cfg)
	must.ErrorContains(t, err, `store "redis": password_file: open `)
	cfg.Store.PasswordFile = ""
	_, err = jobstore.Open(ctx, cfg)
	must.ErrorContains(t, err, srv.Addr+" refused the credentials")

	// Nothing listens on a port just released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = jobstore.Open(ctx, redisConfig(addr, t.TempDir()))
	must.ErrorContains(t, err, "cannot reach Redis at "+addr)
}

// TestSecondAgentRefused: while an agent process has the store open, a
// second agent is refused and told which host and pid hold it; once the
// first is killed (no chance to release), its lock expires and the second
// starts.
func TestSecondAgentRefused(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	cfg := redisConfig(srv.Addr, t.TempDir())

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envChild+"="+srv.Addr)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	must.NoError(t, err)
	must.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	must.NoError(t, err, must.Sprint("the child agent did not open the store"))
	must.StrHasPrefix(t, "open redis ", line)

	host, err := os.Hostname()
	must.NoError(t, err)
	first := fmt.Sprintf("pid %d on host %s", child.Process.Pid, host)
	_, err = jobstore.Open(ctx, cfg)
	must.ErrorContains(t, err, first)
	must.ErrorContains(t, err, "another agent uses the store at "+srv.Addr)
	// Still refused after several of the first agent's refreshes.
	time.Sleep(childLockTTL)
	_, err = jobstore.Open(ctx, cfg)
	must.ErrorContains(t, err, first)

	must.NoError(t, child.Process.Kill())
	_ = child.Wait()
	deadline := time.Now().Add(10 * childLockTTL)
	for {
		st, err := jobstore.Open(ctx, cfg)
		if err == nil {
			must.NoError(t, st.Close())
			break
		}
		must.ErrorContains(t, err, first)
		if time.Now().After(deadline) {
			t.Fatalf("the killed agent's lock never expired: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLockLost: an agent whose lock was taken from it (here, deleted and
// taken by another) is told, and its writes are fenced off.
func TestLockLost(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	cfg := redisConfig(srv.Addr, t.TempDir())
	cfg.Store.LockTTL = time.Second
	first, err := jobstore.Open(ctx, cfg)
	must.NoError(t, err)
	defer first.Close()
	must.NoError(t, srv.Client(t).Del(ctx, "god:agent:lock").Err())
	second, err := jobstore.Open(ctx, cfg)
	must.NoError(t, err)
	defer second.Close()
	select {
	case <-first.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the first agent was not told that it lost its lock")
	}
	must.ErrorContains(t, first.LostErr(), "another agent holds it now, pid ")
	must.ErrorIs(t, first.Store.Create(ctx, storetest.NewJob(1000, 1)), store.ErrFenced)
	must.NoError(t, second.Store.Create(ctx, storetest.NewJob(1000, 1)))
	must.True(t, strings.Contains(second.String(), srv.Addr))
}

// TestClusterRefusesStandaloneStore: the agents of a cluster (consul block)
// take no agent lock, and refuse a store that an agent without a consul
// block uses: it would schedule beside their leader.
func TestClusterRefusesStandaloneStore(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	clustered := func() *config.Config {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Store = &config.Store{Backend: "redis", Address: srv.Addr}
		cfg.HTTP.Enabled = true
		cfg.Consul = &config.Consul{Advertise: "127.0.0.1:6543"}
		must.NoError(t, cfg.Finalize())
		return cfg
	}
	// Two cluster agents share the store.
	a, err := jobstore.Open(ctx, clustered())
	must.NoError(t, err)
	b, err := jobstore.Open(ctx, clustered())
	must.NoError(t, err)
	must.NoError(t, a.Close())
	must.NoError(t, b.Close())

	alone, err := jobstore.Open(ctx, redisConfig(srv.Addr, t.TempDir()))
	must.NoError(t, err)
	defer alone.Close()
	_, err = jobstore.Open(ctx, clustered())
	must.ErrorContains(t, err, "is used by an agent without a consul block")
	must.ErrorContains(t, err, fmt.Sprintf("pid %d", os.Getpid()))
}
