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

  Show your usage (every user's for admins): cpu core-hours, memory
  GiB-hours and GPU-hours of finished jobs, fading by half every half-life
  of the scheduler, the three folded into the effective hours that fair
  share compares (scheduler memory_weight and gpu_weight), the user's
  priority, the cores and GPUs running now, the jobs pending, and the
  core-hours used over the quota window. With the fairshare scheduler, the
  user with the fewest effective hours for their priority goes first, and
  between projects the one with the fewest effective hours for its
  priority.

Usage Options:

  -user=<login>
    Show this user's line only (admins: anyone's).

  -project=<name>
    Show a project's usage instead: running jobs, cores, memory and GPUs,
    its decayed past usage as above, the core-hours of its jobs over the
    quota window, and its quota (members and admins).

  -group=<name or gid>
    Show a group's decayed past usage instead: the jobs of the users whose
    primary group it is (members and admins).
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *UsageCommand) Run(args []string) int {
	fs := c.FlagSet("usage", true)
	var user, project, group string
	fs.StringVar(&user, "user", "", "")
	fs.StringVar(&project, "project", "", "")
	fs.StringVar(&group, "group", "", "")
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	if project != "" && group != "" {
		c.Ui.Error("Give -project or -group, not both")
		return 1
	}
	if group != "" {
		g, err := client.GroupUsage(context.Background(), group)
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error reading group %s's usage: %s", group, err))
			return 1
		}
		if c.json {
			return c.outputJSON(g)
		}
		c.Ui.Output(formatKV([]string{
			fmt.Sprintf("Group|%s (gid %d)", orDash(g.Group), g.GID),
			fmt.Sprintf("Past usage|%s", pastUsageText(g.CPUHours, g.MemoryGiBHours, g.GPUHours, g.EffectiveHours)),
		}))
		return 0
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
			fmt.Sprintf("Running|%d job(s), %g cpu, %s, %d GPU(s)", p.RunningJobs, p.RunningCPU, api.FormatSize(p.RunningMemory), p.RunningGPUs),
			fmt.Sprintf("Past usage|%s", pastUsageText(p.CPUHours, p.MemoryGiBHours, p.GPUHours, p.EffectiveHours)),
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
	rows := []string{"User|UID|Priority|CPU Hours|Memory GiB Hours|GPU Hours|Effective Hours|Running CPU|Running GPUs|Pending|Window Core-Hours"}
	for _, e := range u {
		rows = append(rows, fmt.Sprintf("%s|%d|%d|%.3f|%.3f|%.3f|%.3f|%g|%d|%d|%.1f", e.User, e.UID, e.Priority, e.CPUHours, e.MemoryGiBHours, e.GPUHours, e.EffectiveHours, e.RunningCPU, e.RunningGPUs, e.Pending, e.WindowCPUHours))
	}
	c.Ui.Output(formatList(rows))
	return 0
}

// pastUsageText is a decayed usage: what fair share compares first.
func pastUsageText(cpu, mem, gpu, eff float64) string {
	return fmt.Sprintf("%.3f effective hours (%.3f core-hours, %.3f GiB-hours, %.3f GPU-hours), fading by half every half-life", eff, cpu, mem, gpu)
}
