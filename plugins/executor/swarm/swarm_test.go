package swarm_test

// These tests run against the local Docker engine as a single-node Swarm
// manager (no mocks): `make testenv` (scripts/testenv-swarm.sh) makes it
// one. Without an active swarm they skip with the reason, except in CI.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/executortest"
	godswarm "github.com/godocker/god/plugins/executor/swarm"
)

const (
	engineAddress = "unix:///var/run/docker.sock"
	aliceUID      = 23001
	aliceGID      = 23001
	labGID        = 23100
)

var testImage = func() string {
	if s := os.Getenv("GOD_TEST_IMAGE"); s != "" {
		return s
	}
	return "godocker/bash:local"
}()

// unavailable skips with the reason, except in CI, which must run these.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run the Swarm executor tests: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), msg)
	t.Skipf("skipping: %s", msg)
}

func engineClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.New(client.WithHost(engineAddress))
	must.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

var helper struct {
	once sync.Once
	path string
	err  error
}

// nnpHelper builds god-nnp once for the test binary: the engine here
// (20.10) cannot set no-new-privileges on services by itself.
func nnpHelper(t *testing.T) string {
	t.Helper()
	helper.once.Do(func() {
		dir, err := os.MkdirTemp("", "god-nnp-")
		if err != nil {
			helper.err = err
			return
		}
		// Readable by the engine, which binds it into every job.
		_ = os.Chmod(dir, 0o755)
		helper.path = filepath.Join(dir, "god-nnp")
		cmd := exec.Command("go", "build", "-o", helper.path, "github.com/godocker/god/cmd/god-nnp")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			helper.err = fmt.Errorf("building god-nnp: %v: %s", err, out)
		}
	})
	must.NoError(t, helper.err)
	return helper.path
}

// open connects an executor to the local swarm; nil config fields get the
// tests' defaults.
func open(t *testing.T, cfg godswarm.Config) *godswarm.Executor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cli := engineClient(t)
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		unavailable(t, "no Docker engine answers (%v); run `make testenv` as root", err)
	}
	if info.Info.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
		unavailable(t, "the Docker engine is not a Swarm manager (state %q); run `make testenv` (scripts/testenv-swarm.sh) as root", info.Info.Swarm.LocalNodeState)
	}
	if _, err := cli.ImageInspect(ctx, testImage); err != nil {
		unavailable(t, "test image %s is not on the engine (%v); run `make testenv` as root", testImage, err)
	}
	if cfg.NNPHelper == "" {
		cfg.NNPHelper = nnpHelper(t)
	}
	if cfg.StoreID == "" {
		cfg.StoreID = executortest.NewStoreID()
	}
	if cfg.Instance == "" {
		cfg.Instance = "godsw-" + executortest.NewStoreID()[:6]
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 200 * time.Millisecond
	}
	e, err := godswarm.New(ctx, cfg)
	must.NoError(t, err)
	return e
}

// TestContract runs the executors' shared contract against the swarm.
func TestContract(t *testing.T) {
	executortest.Run(t, executortest.Harness{
		Open: func(t *testing.T, instance, storeID string) executor.Executor {
			return open(t, godswarm.Config{Instance: instance, StoreID: storeID})
		},
		Image:      testImage,
		UID:        aliceUID,
		GID:        aliceGID,
		Groups:     []int{labGID},
		SetuidBash: "/bin/bash-static",
		ReportsOOM: true, // the tasks run on this node: its engine tells
	})
}

// cleanup removes every service of e's store when the test ends.
func cleanup(t *testing.T, e *godswarm.Executor) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		states, err := e.List(ctx)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, s := range states {
			_ = e.Remove(ctx, s.JobID)
		}
		e.Close()
	})
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func task(jobID int64, script string) *executor.Task {
	return &executor.Task{
		JobID: jobID, Owner: aliceUID, Name: "test-" + strconv.FormatInt(jobID, 10), Image: testImage,
		Entrypoint: []string{"bash", "-c", script}, UID: aliceUID, GID: aliceGID, Groups: []int{labGID},
		KillTimeout: 5 * time.Second,
	}
}
