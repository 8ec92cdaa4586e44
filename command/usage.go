package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// UsageCommand shows the usage ledger.
type UsageCommand struct {
	Meta
}

func (c *UsageCommand) Synopsis() string { return "Show the usage ledger" }

func (c *UsageCommand) Help() string {
	return strings.TrimSpace(`
Usage: god usage [options]

  Show your usage (every user's for admins): cpu core-hours and memory
  GiB-hours of finished jobs, fading by half every half-life of the
  scheduler, the two folded into the effective hours that fair share
  compares, the user's priority, the cores running now, the jobs pending,
  and the core-hours used over the quota window. With the fairshare
  scheduler, the user with the fewest effective hours for their priority
  goes first.

Usage Options:

  -user=<login>
    Show this user's line only (admins: anyone's).

  -project=<name>
    Show a project's usage instead: running jobs, cores and memory, the
    core-hours of its jobs over the quota window, and its quota (members
    and admins).
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *UsageCommand) Run(args []string) int {
	fs := c.FlagSet("usage", true)
	var user, project string
	fs.StringVar(&user, "user", "", "")
	fs.StringVar(&project, "project", "", "")
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	if project != "" {
		p, err := client.ProjectUsage(context.Background(), project)
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error reading project %s's usage: %s", project, err))
			return 1
		}
		if c.json {
			return c.outputJSON(p)
		}
		c.Ui.Output(formatKV([]string{
			"Project|" + p.Project,
			fmt.Sprintf("Priority|%d", p.Priority),
			fmt.Sprintf("Running|%d job(s), %g cpu, %s", p.RunningJobs, p.RunningCPU, api.FormatSize(p.RunningMemory)),
			fmt.Sprintf("Core-hours|%.1f in the last %s", p.WindowCPUHours, p.Window),
			"Quota|" + quotaText(p.Quota),
		}))
		return 0
	}
	all, err := client.Usage(context.Background())
	u := all[:0]
	for _, e := range all {
		if user == "" || e.User == user {
			u = append(u, e)
		}
	}
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
	rows := []string{"User|UID|Priority|CPU Hours|Memory GiB Hours|Effective Hours|Running CPU|Pending|Window Core-Hours"}
	for _, e := range u {
		rows = append(rows, fmt.Sprintf("%s|%d|%d|%.3f|%.3f|%.3f|%g|%d|%.1f", e.User, e.UID, e.Priority, e.CPUHours, e.MemoryGiBHours, e.EffectiveHours, e.RunningCPU, e.Pending, e.WindowCPUHours))
	}
	c.Ui.Output(formatList(rows))
	return 0
}
