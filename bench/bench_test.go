// Package bench measures GoDocker on this machine: durable submit
// throughput through the HTTP API, and submit-to-running latency on the
// real Docker engine against a plain `docker run` of the same image and
// command, in the same run. `make bench` runs it; it prints a report and
// asserts nothing about speed.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/godocker/god/agent"
	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/docker"
	"github.com/godocker/god/plugins/executor/fake"
	"github.com/godocker/god/plugins/scheduler/fifo"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/sqlite"
)

const image = "godocker/bash:local"

func TestBenchmarkReport(t *testing.T) {
	if os.Getenv("GOD_BENCH") == "" {
		t.Skip("skipping: benchmarks run with `make bench` (GOD_BENCH=1)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the benchmark starts an agent that runs jobs: run it as root")
	}
	seconds := envInt("GOD_BENCH_SECONDS", 10)
	runs := envInt("GOD_BENCH_RUNS", 30)
	fmt.Printf("GoDocker benchmark — %s, %d cores, %s\n", time.Now().Format(time.RFC3339), runtime.NumCPU(), runtime.Version())
	submitThroughput(t, 64, time.Duration(seconds)*time.Second)
	submitThroughput(t, 1, time.Duration(seconds/2+1)*time.Second)
	dispatchThroughput(t, envInt("GOD_BENCH_DISPATCH", 10000))
	submitToRunning(t, runs)
}

// TestBenchmarkDispatch runs B3 alone (GOD_BENCH=1), so that it can be
// repeated for a median without the Docker benchmarks.
func TestBenchmarkDispatch(t *testing.T) {
	if os.Getenv("GOD_BENCH") == "" {
		t.Skip("skipping: benchmarks run with GOD_BENCH=1")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the benchmark starts an agent that runs jobs: run it as root")
	}
	dispatchThroughput(t, envInt("GOD_BENCH_DISPATCH", 10000))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// startAgent runs an in-process agent on ex and returns a client over its
// Unix socket.
func startAgent(t *testing.T, ex executor.Executor) *api.Client {
	c, _ := startAgentWith(t, ex)
	return c
}

func startAgentWith(t *testing.T, ex executor.Executor) (*api.Client, *agent.Agent) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Socket = filepath.Join(dir, "god.sock")
	cfg.AllowRoot = true // the benchmark submits as root
	cfg.Defaults.Image = image
	cfg.Defaults.Memory = "64MiB"
	// The submit benchmark can outrun dispatch to the fake executor: no
	// queue cap, so every submit is measured as accepted.
	cfg.MaxPending = 0
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, agent.Options{Store: st, Executor: ex, Scheduler: fifo.Scheduler{}, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	c, err := api.NewClient(&api.Config{Address: "unix://" + cfg.Socket})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := c.Agent().Self(context.Background()); err == nil {
			return c, a
		} else if i > 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// submitThroughput: concurrent clients POST /v1/jobs for d; every answer
// comes after the job is durable (fsynced). Jobs are dispatched to a fake
// executor as they arrive, so the scheduler works alongside.
func submitThroughput(t *testing.T, clients int, d time.Duration) {
	c := startAgent(t, fake.New(executor.Capacity{CPU: 1e9, Memory: 1 << 62}))
	spec := &api.JobSpec{Name: "bench", Command: "echo hello; sleep 1", Tags: []string{"bench"}, Resources: &api.Resources{CPU: 0.5, Memory: "64MiB"}}
	var n atomic.Int64
	lat := make([][]time.Duration, clients)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if _, err := c.Jobs().Submit(context.Background(), spec); err != nil {
					t.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
				n.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	fmt.Printf("\nB1 durable submit through the HTTP API (Unix socket), %d client(s), %s:\n", clients, d)
	fmt.Printf("  %d jobs, %.0f submits/s, latency p50 %s p99 %s\n", n.Load(), float64(n.Load())/elapsed.Seconds(), pct(all, 50), pct(all, 99))
}

// dispatchThroughput: n jobs wait while the executor is full; then room
// appears and the scheduler dispatches them all to a fake executor. Each
// dispatch writes the job directory and durably records the job running.
func dispatchThroughput(t *testing.T, n int) {
	// Room for one job: the first runs, the others queue behind it.
	ex := fake.New(executor.Capacity{CPU: 0.5, Memory: 64 << 20})
	c, a := startAgentWith(t, ex)
	spec := &api.JobSpec{Name: "queued", Command: "true", Resources: &api.Resources{CPU: 0.5, Memory: "64MiB"}}
	n++ // the blocker
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := c.Jobs().Submit(context.Background(), spec); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	start := time.Now()
	ex.SetCapacity(executor.Capacity{CPU: 1e9, Memory: 1 << 62})
	a.CapacityChanged()
	// A job leaves the queue once its running state is durable.
	for a.QueueLength() > 0 {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	fmt.Printf("\nB3 dispatch to a fake executor, %d queued jobs released at once:\n", n-1)
	fmt.Printf("  all running (durably recorded) in %s: %.0f dispatches/s, %d container starts\n", elapsed.Round(time.Millisecond), float64(n-1)/elapsed.Seconds(), ex.Starts())
}

// submitToRunning compares, run after run, a plain `docker run -d` (and the
// create+start API calls it makes) with a GoDocker submit until the job is
// seen running, for the same image and command on the same engine.
func submitToRunning(t *testing.T, runs int) {
	ctx := context.Background()
	// The agent's store is new: a store id of the bench's own.
	ex, err := docker.New(ctx, docker.Config{Instance: fmt.Sprintf("godbench-%d", os.Getpid()), StoreID: store.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	c := startAgent(t, ex)
	cli, err := client.New(client.WithHost("unix:///var/run/docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	var dockerRun, apiRun, god []time.Duration
	for i := range runs {
		// docker run -d: the CLI, as a person would type it.
		t0 := time.Now()
		out, err := exec.Command("docker", "run", "-d", image, "true").Output()
		if err != nil {
			t.Fatalf("docker run: %v", err)
		}
		dockerRun = append(dockerRun, time.Since(t0))
		_ = exec.Command("docker", "rm", "-f", strings.TrimSpace(string(out))).Run()

		// The same through the API: create + start.
		t0 = time.Now()
		created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: fmt.Sprintf("godbench-api-%d-%d", os.Getpid(), i), Config: &container.Config{Image: image, Cmd: []string{"true"}}})
		if err == nil {
			_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
		}
		if err != nil {
			t.Fatalf("create+start: %v", err)
		}
		apiRun = append(apiRun, time.Since(t0))
		_, _ = cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})

		// GoDocker: submit, then a blocking query until running.
		t0 = time.Now()
		r, err := c.Jobs().Submit(ctx, &api.JobSpec{Name: "latency", Command: "true"})
		if err != nil {
			t.Fatal(err)
		}
		j, err := c.Jobs().Info(ctx, r.ID)
		for err == nil && j.Status.Primary == api.StatePending {
			j, err = c.Jobs().Wait(ctx, r.ID, j.Version, time.Minute)
		}
		if err != nil {
			t.Fatal(err)
		}
		god = append(god, time.Since(t0))
		for err == nil && j.Status.Primary != api.StateOver {
			j, err = c.Jobs().Wait(ctx, r.ID, j.Version, time.Minute)
		}
	}
	fmt.Printf("\nB4 submit-to-running on the Docker engine, image %s, command `true`, %d runs each, interleaved:\n", image, runs)
	fmt.Printf("  docker run -d (CLI)        p50 %s  p99 %s\n", pct(dockerRun, 50), pct(dockerRun, 99))
	fmt.Printf("  create+start (engine API)  p50 %s  p99 %s\n", pct(apiRun, 50), pct(apiRun, 99))
	fmt.Printf("  god submit → running       p50 %s  p99 %s\n", pct(god, 50), pct(god, 99))
	fmt.Printf("  ratio p50: %.2f× docker run, %.2f× create+start\n", ratio(god, dockerRun), ratio(god, apiRun))
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(i, 0)].Round(10 * time.Microsecond)
}

func ratio(a, b []time.Duration) float64 {
	return float64(pct(a, 50)) / float64(pct(b, 50))
}
