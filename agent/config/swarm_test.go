package config

import (
	"testing"
	"time"

	"github.com/shoenig/test/must"
)

func TestFinalize_swarm(t *testing.T) {
	src := `executor = "swarm"
swarm {
  address       = "unix:///var/run/docker.sock"
  memory        = "8GiB"
  cpu           = 4
  constraints   = ["node.labels.god==true"]
  nnp_helper    = "/usr/local/bin/god-nnp"
  start_timeout = "1m"
  poll_interval = "2s"
}
`
	cfg, err := Parse("s.hcl", []byte(src), nil)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.Eq(t, "swarm", cfg.Executor)
	w := cfg.Swarm
	must.Eq(t, "god", w.Instance, must.Sprint("the docker block's instance by default"))
	must.Eq(t, int64(8<<30), w.MemoryBytes)
	must.Eq(t, 4.0, w.CPU)
	must.Eq(t, []string{"node.labels.god==true"}, w.Constraints)
	must.Eq(t, time.Minute, w.StartTimeoutDuration)
	must.Eq(t, 2*time.Second, w.PollIntervalDuration)

	// Without a block, defaults.
	cfg, err = Parse("s.hcl", []byte(`executor = "swarm"`), nil)
	must.NoError(t, err)
	must.NoError(t, cfg.Finalize())
	must.NotNil(t, cfg.Swarm)
	must.Eq(t, "god", cfg.Swarm.Instance)

	for src, want := range map[string]string{
		"executor = \"swarm\"\nswarm {\n  memory = \"lots\"\n}":        `swarm.memory:`,
		"executor = \"swarm\"\nswarm {\n  cpu = -1\n}":                 `swarm.cpu must be 0`,
		"executor = \"swarm\"\nswarm {\n  pids_limit = -1\n}":          `swarm.pids_limit must be 0`,
		"executor = \"swarm\"\nswarm {\n  nnp_helper = \"god-nnp\"\n}": `swarm.nnp_helper must be an absolute path`,
		"executor = \"swarm\"\nswarm {\n  start_timeout = \"soon\"\n}": `swarm.start_timeout must be a positive duration`,
		"executor = \"swarm\"\nswarm {\n  poll_interval = \"-1s\"\n}":  `swarm.poll_interval must be a positive duration`,
		"executor = \"swarm\"\nswarm {\n  constraints = [\"\"]\n}":     `swarm.constraints[0] is empty`,
	} {
		cfg, err := Parse("s.hcl", []byte(src), nil)
		must.NoError(t, err)
		must.ErrorContains(t, cfg.Finalize(), want)
	}
}
