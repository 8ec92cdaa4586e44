package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBenchmarkCLI times the god CLI as whole processes, as users and
// workflow managers run it (one process per job), against Slurm's sbatch
// and squeue on the same machine, interleaved round by round: `god job
// run` of a held job against `sbatch -H --wrap true`, and `god job status
// ID` against `squeue -j ID`, serially and from 16 parallel clients. The
// agent is a real `god agent` process on the local Docker engine; the
// jobs are held, so nothing runs on either side. `make bench` starts
// Slurm first (scripts/slurm.sh); without it the Slurm columns are empty.
func TestBenchmarkCLI(t *testing.T) {
	if os.Getenv("GOD_BENCH") == "" {
		t.Skip("skipping: benchmarks run with `make bench` (GOD_BENCH=1)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the benchmark starts an agent and submits as root: run it as root")
	}
	quick := os.Getenv("GOD_BENCH_QUICK") != ""
	rounds, serial, parallel := envInt("GOD_BENCH_CLI_ROUNDS", 5), envInt("GOD_BENCH_CLI_SERIAL", 200), envInt("GOD_BENCH_CLI_PARALLEL", 480)
	if quick {
		rounds, serial, parallel = envInt("GOD_BENCH_CLI_ROUNDS", 3), envInt("GOD_BENCH_CLI_SERIAL", 60), envInt("GOD_BENCH_CLI_PARALLEL", 160)
	}
	const clients = 16
	god := startAgentProcess(t)
	slurm := slurmUp()
	if !slurm {
		fmt.Println("\nSlurm is not running (start it with scripts/slurm.sh): no baseline")
	}
	// One job of each to query.
	godJob := god.submittedID(t)
	var slurmJob string
	if slurm {
		out, err := exec.Command("sbatch", "-H", "-J", "godbench", "--wrap", "true").Output()
		m := regexp.MustCompile(`Submitted batch job (\d+)`).FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("sbatch: %v %s", err, out)
		}
		slurmJob = string(m[1])
	}
	submitGod := god.cmd("job", "run", god.spec)
	statusGod := god.cmd("job", "status", godJob)
	submitSlurm := []string{"sbatch", "-H", "-J", "godbench", "--wrap", "true"}
	statusSlurm := []string{"squeue", "-j", slurmJob}
	workloads := []struct {
		what, base         string
		godArgv, slurmArgv []string
		n, clients         int
		godRate, slurmRate []float64
	}{
		{what: "`god job run`, serial", base: "`sbatch -H`", godArgv: submitGod, slurmArgv: submitSlurm, n: serial, clients: 1},
		{what: fmt.Sprintf("`god job run`, %d clients", clients), base: "`sbatch -H`", godArgv: submitGod, slurmArgv: submitSlurm, n: parallel, clients: clients},
		{what: "`god job status ID`, serial", base: "`squeue -j ID`", godArgv: statusGod, slurmArgv: statusSlurm, n: serial, clients: 1},
		{what: fmt.Sprintf("`god job status ID`, %d clients", clients), base: "`squeue -j ID`", godArgv: statusGod, slurmArgv: statusSlurm, n: parallel, clients: clients},
	}
	var batchRate []float64
	for r := range rounds {
		for i := range workloads {
			w := &workloads[i]
			// Alternate which side goes first, so that neither always
			// runs right after the other loaded the machine.
			runGod := func() { w.godRate = append(w.godRate, rate(t, god.env, w.godArgv, w.n, w.clients)) }
			runSlurm := func() {
				if slurm {
					w.slurmRate = append(w.slurmRate, rate(t, nil, w.slurmArgv, w.n, w.clients))
				}
			}
			if r%2 == 0 {
				runGod()
				runSlurm()
			} else {
				runSlurm()
				runGod()
			}
		}
		// Many jobs from one process: `god job run -count`.
		t0 := time.Now()
		if out, err := god.run("job", "run", "-count", "1000", god.spec); err != nil {
			t.Logf("god job run -count (a binary older than -count?): %v\n%.300s", err, out)
		} else {
			batchRate = append(batchRate, 1000/time.Since(t0).Seconds())
		}
		if slurm {
			// Keep Slurm's queue short between rounds: in its favour.
			_ = exec.Command("scancel", "-n", "godbench", "--state", "PENDING").Run()
		}
	}
	fmt.Printf("\nCLI as whole processes (jobs held, nothing runs): median of %d rounds, %d serial / %d from %d clients each, interleaved with Slurm\n", rounds, serial, parallel, clients)
	fmt.Println("\n| benchmark | result | baseline | ratio | target | met? |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, w := range workloads {
		g := median(w.godRate)
		if !slurm {
			fmt.Printf("| %s | %.0f/s | — | — | ≥ 2× %s | — |\n", w.what, g, w.base)
			continue
		}
		b := median(w.slurmRate)
		met := "no"
		if g >= 2*b {
			met = "yes"
		}
		fmt.Printf("| %s | %.0f/s | %s %.0f/s | %.2f× | ≥ 2× | %s |\n", w.what, g, w.base, b, g/b, met)
	}
	fmt.Printf("| `god job run -count 1000` (one process) | %.0f jobs/s | | | | |\n", median(batchRate))
	fmt.Printf("\nstartup: `god version` %s (median of 50), `/bin/true` %s\n", medianRun(t, nil, []string{god.cli, "version"}, 50), medianRun(t, nil, []string{"/bin/true"}, 50))
	fmt.Printf("machine: %d cores, %s\n", runtime.NumCPU(), runtime.Version())
}

// godProcess is a `god agent` process of the benchmark's own.
type godProcess struct {
	// bin runs the agent, cli the commands: the same binary unless
	// GOD_CLI_BIN names another (to compare builds).
	bin, cli, spec string
	env            []string
}

func (g *godProcess) cmd(args ...string) []string { return append([]string{g.cli}, args...) }

func (g *godProcess) run(args ...string) ([]byte, error) {
	c := exec.Command(g.cli, args...)
	c.Env = g.env
	return c.CombinedOutput()
}

func (g *godProcess) submittedID(t *testing.T) string {
	out, err := g.run("job", "run", g.spec)
	m := regexp.MustCompile(`Job id is (\d+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("god job run: %v %s", err, out)
	}
	return string(m[1])
}

// startAgentProcess runs bin/god agent (GOD_BIN overrides) with a data dir
// and socket of its own, and waits until it answers.
func startAgentProcess(t *testing.T) *godProcess {
	bin := os.Getenv("GOD_BIN")
	if bin == "" {
		bin, _ = filepath.Abs("../bin/god")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no god binary at %s: run `make build` (or set GOD_BIN)", bin)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.hcl")
	sock := filepath.Join(dir, "god.sock")
	must(t, os.WriteFile(cfg, fmt.Appendf(nil, `data_dir = %q
socket = %q
allow_root = true
max_pending = 0
log_level = "warn"
defaults { image = %q }
docker { instance = "godbench-cli-%d" }
`, filepath.Join(dir, "data"), sock, image, os.Getpid()), 0o644))
	spec := filepath.Join(dir, "task.hcl")
	must(t, os.WriteFile(spec, []byte("job \"bench\" {\n  command = \"true\"\n  hold    = true\n}\n"), 0o644))
	var logs bytes.Buffer
	agent := exec.Command(bin, "agent", "-config", cfg)
	agent.Stdout, agent.Stderr = &logs, &logs
	must(t, agent.Start())
	t.Cleanup(func() {
		_ = agent.Process.Signal(os.Interrupt)
		_ = agent.Wait()
	})
	cli := os.Getenv("GOD_CLI_BIN")
	if cli == "" {
		cli = bin
	}
	g := &godProcess{bin: bin, cli: cli, spec: spec, env: []string{"GOD_ADDR=unix://" + sock, "XDG_CONFIG_HOME=" + dir, "PATH=/usr/bin:/bin"}}
	for i := 0; ; i++ {
		if _, err := g.run("job", "status"); err == nil {
			return g
		}
		if i > 300 {
			t.Fatalf("the agent did not answer:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// slurmUp reports whether a Slurm controller answers.
func slurmUp() bool {
	out, err := exec.Command("scontrol", "ping").Output()
	return err == nil && bytes.Contains(out, []byte("is UP"))
}

// rate runs argv n times from c concurrent clients and returns runs/s.
func rate(t *testing.T, env, argv []string, n, c int) float64 {
	var next, failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				cmd := exec.Command(argv[0], argv[1:]...)
				if env != nil {
					cmd.Env = env
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					failed.Add(1)
					firstErr.Do(func() { t.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out) })
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d of %d runs of %s failed", failed.Load(), n, argv[0])
	}
	return float64(n) / time.Since(start).Seconds()
}

// medianRun is the median wall time of n serial runs of argv.
func medianRun(t *testing.T, env, argv []string, n int) time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v", argv, err)
		}
		d[i] = time.Since(t0)
	}
	return pct(d, 50)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
