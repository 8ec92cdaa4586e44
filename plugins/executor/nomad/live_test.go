package nomad_test

// A real Nomad for the suite: the one at GOD_NOMAD_ADDR, or a dev agent
// this test binary starts on free loopback ports when a `nomad` binary is
// on PATH (it needs the Docker engine and test image of `make testenv`).
// No registry ships Nomad, so CI has none: there the live tests skip, with
// the reason printed, and the replayed ones (TestReplay) run instead.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

var live struct {
	once    sync.Once
	addr    string
	version string
	skip    string // why there is no live Nomad
	cmd     *exec.Cmd
	dir     string
	exited  chan struct{}
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopLiveNomad()
	os.Exit(code)
}

// liveNomad returns the address of a live Nomad, or skips the test with the
// reason (also when CI is set: CI cannot install Nomad and replays instead).
func liveNomad(t *testing.T) string {
	t.Helper()
	live.once.Do(startLiveNomad)
	if live.skip != "" {
		fmt.Fprintf(os.Stderr, "skipping %s: %s\n", t.Name(), live.skip)
		t.Skipf("skipping: %s", live.skip)
	}
	return live.addr
}

func nomadVersion() string { return live.version }

func startLiveNomad() {
	if addr := os.Getenv("GOD_NOMAD_ADDR"); addr != "" {
		live.addr = addr
		if err := waitNomadReady(addr, 30*time.Second); err != nil {
			live.skip = fmt.Sprintf("the Nomad at GOD_NOMAD_ADDR=%s is not usable: %v", addr, err)
		}
		return
	}
	bin, err := exec.LookPath("nomad")
	if err != nil {
		live.skip = "no `nomad` binary on PATH and GOD_NOMAD_ADDR is unset (no registry ships Nomad); TestReplay covers the executor with recorded exchanges"
		return
	}
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		live.skip = "no Docker engine for Nomad's docker driver; run `make testenv` as root"
		return
	}
	ports, err := freePorts(3)
	if err != nil {
		live.skip = err.Error()
		return
	}
	live.dir, err = os.MkdirTemp("", "god-nomad-")
	if err != nil {
		live.skip = err.Error()
		return
	}
	// Loopback only; no update check; the cloud fingerprinters would wait
	// for metadata services this network does not have; the docker plugin
	// must allow bind mounts of host paths (GoDocker's job directories)
	// and keep the locally built test image.
	config := fmt.Sprintf(`
data_dir = %q
bind_addr = "127.0.0.1"
disable_update_check = true
ports {
  http = %d
  rpc  = %d
  serf = %d
}
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
client {
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
  }
}
plugin "docker" {
  config {
    volumes {
      enabled = true
    }
    gc {
      image = false
    }
  }
}
`, filepath.Join(live.dir, "data"), ports[0], ports[1], ports[2])
	cfgPath := filepath.Join(live.dir, "agent.hcl")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		live.skip = err.Error()
		return
	}
	logFile, err := os.Create(filepath.Join(live.dir, "agent.log"))
	if err != nil {
		live.skip = err.Error()
		return
	}
	cmd := exec.Command(bin, "agent", "-dev", "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		live.skip = fmt.Sprintf("starting %s: %v", bin, err)
		return
	}
	live.cmd = cmd
	live.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(live.exited) }()
	live.addr = "http://127.0.0.1:" + strconv.Itoa(ports[0])
	if err := waitNomadReady(live.addr, 60*time.Second); err != nil {
		live.skip = fmt.Sprintf("the dev agent started from %s did not become ready (%v); see %s", bin, err, filepath.Join(live.dir, "agent.log"))
		return
	}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		live.version = string(out[:len(out)-1])
	}
}

// waitNomadReady waits for a leader and a ready node whose docker driver is
// healthy.
func waitNomadReady(addr string, within time.Duration) error {
	cli, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(within)
	last := errors.New("not asked yet")
	for time.Now().Before(deadline) {
		if live.exited != nil {
			select {
			case <-live.exited:
				return errors.New("the agent exited")
			default:
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		nodes, _, err := cli.Nodes().List((&api.QueryOptions{}).WithContext(ctx))
		cancel()
		switch {
		case err != nil:
			last = err
		default:
			last = errors.New("no ready node with a healthy docker driver")
			for _, n := range nodes {
				if d := n.Drivers["docker"]; n.Status == "ready" && d != nil && d.Healthy {
					if live.version == "" {
						live.version = n.Version
					}
					return nil
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return last
}

func stopLiveNomad() {
	if live.cmd == nil {
		return
	}
	_ = live.cmd.Process.Signal(os.Interrupt)
	select {
	case <-live.exited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-live.cmd.Process.Pid, syscall.SIGKILL)
		<-live.exited
	}
	// The client mounts a tmpfs in each allocation's directory; one it had
	// not yet collected when it stopped would keep the directory.
	if b, err := os.ReadFile("/proc/self/mounts"); err == nil {
		var points []string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], live.dir+"/") {
				points = append(points, f[1])
			}
		}
		slices.Sort(points)
		for _, p := range slices.Backward(points) {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
	_ = os.RemoveAll(live.dir)
}

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
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
