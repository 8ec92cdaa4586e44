package command

import (
	"context"
	"fmt"
	"strings"
)

// UsageCommand shows the usage ledger.
type UsageCommand struct {
	Meta
}

func (c *UsageCommand) Synopsis() string { return "Show the usage ledger" }

func (c *UsageCommand) Help() string {
	return strings.TrimSpace(`
Usage: god usage [options]

  Show your usage (every user's for root): cpu core-hours and memory
  GiB-hours of finished jobs, fading by half every half-life of the
  scheduler, the two folded into the effective hours that fair share
  compares, the cores running now and the jobs pending. With the fairshare
  scheduler, the user with the fewest effective hours goes first.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *UsageCommand) Run(args []string) int {
	fs := c.FlagSet("usage", true)
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	u, err := client.Usage(context.Background())
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading usage: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(u)
	}
	if len(u) == 0 {
		c.Ui.Output("No usage yet")
		return 0
	}
	rows := []string{"User|UID|CPU Hours|Memory GiB Hours|Effective Hours|Running CPU|Pending"}
	for _, e := range u {
		rows = append(rows, fmt.Sprintf("%s|%d|%.3f|%.3f|%.3f|%g|%d", e.User, e.UID, e.CPUHours, e.MemoryGiBHours, e.EffectiveHours, e.RunningCPU, e.Pending))
	}
	c.Ui.Output(formatList(rows))
	return 0
}
