package command

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/godocker/god/api"
	"github.com/godocker/god/jobspec"
)

// ProjectUpdateCommand changes a project.
type ProjectUpdateCommand struct {
	Meta
}

func (c *ProjectUpdateCommand) Synopsis() string { return "Change a project (admins)" }

func (c *ProjectUpdateCommand) Help() string {
	return strings.TrimSpace(`
Usage: god project update [options] <NAME>

  Change a project's description, priority or quota. Admins only. Members change
  with "god project add-member" and "remove-member". The default project
  cannot be changed.

Update Options:

  -description=<text>
    The new description ("" clears it).

  -priority=<n>
    The new priority in fair share, 0 to 100.

  -quota=<list>
    The project's new quota, for all its members' jobs together, replacing
    the old one: comma-separated running_jobs=N, running_cpu=CORES,
    running_memory=SIZE (binary units), running_gpus=N and cpu_hours=N
    (core-hours over the site's quota window). Left out, a value is not capped; -quota=none
    removes the quota.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *ProjectUpdateCommand) Run(args []string) int {
	fs := c.FlagSet("project update", true)
	var u api.ProjectUpdate
	fs.Func("description", "", func(s string) error { u.Description = &s; return nil })
	fs.Func("priority", "", priorityFlag(&u.Priority))
	fs.Func("quota", "", func(s string) error {
		q, err := parseProjectQuota(s)
		u.Quota = q
		return err
	})
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a project name")
	if !ok {
		return 1
	}
	if u.Description == nil && u.Priority == nil && u.Quota == nil {
		c.Ui.Error("Nothing to update: give -description, -priority or -quota")
		return 1
	}
	name := fs.Arg(0)
	p, err := client.Accounts().UpdateProject(context.Background(), name, &u)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error updating project %s: %s", name, err))
		return 1
	}
	if c.json {
		return c.outputJSON(p)
	}
	c.Ui.Output(fmt.Sprintf("Project %s updated\n%s", p.Name, formatKV(projectRows(p))))
	return 0
}

// parseProjectQuota reads -quota: "running_jobs=4,cpu_hours=1000", or
// "none" for no quota.
func parseProjectQuota(s string) (*api.ProjectQuota, error) {
	q := &api.ProjectQuota{}
	if s == "none" {
		return q, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("quota %q: write name=value pairs separated by commas, e.g. running_jobs=4,cpu_hours=1000", kv)
		}
		bad := func() error {
			return fmt.Errorf("quota %s: %q is not a valid value (0 or more)", k, v)
		}
		switch k {
		case "running_jobs", "running_gpus":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, bad()
			}
			if k == "running_jobs" {
				q.RunningJobs = n
			} else {
				q.RunningGPUs = n
			}
		case "running_cpu", "cpu_hours":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return nil, bad()
			}
			if k == "running_cpu" {
				q.RunningCPU = f
			} else {
				q.CPUHours = f
			}
		case "running_memory":
			n, err := jobspec.ParseMemory(v)
			if err != nil {
				return nil, fmt.Errorf("quota running_memory: %v", err)
			}
			q.RunningMemory = n
		default:
			return nil, fmt.Errorf("quota: unknown %q; the quotas are running_jobs, running_cpu, running_memory, running_gpus and cpu_hours", k)
		}
	}
	return q, nil
}
