package command

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/cli"

	"github.com/godocker/god/api"
)

// ProjectCommand groups the project subcommands.
type ProjectCommand struct {
	Meta
}

func (c *ProjectCommand) Synopsis() string { return "Show and manage projects" }

func (c *ProjectCommand) Help() string {
	return strings.TrimSpace(`
Usage: god project <subcommand> [options] [args]

  A project groups users: the jobs submitted to it (project = "name" in the
  job spec) share its priority and quotas. Everyone may use the project
  "default". Members see their projects; admins see and manage them all.

    god project list                         list your projects (admins: all)
    god project show NAME                    show one
    god project create [options] NAME        create one (admins)
    god project update [options] NAME        change its description or priority (admins)
    god project delete NAME                  delete it (admins)
    god project add-member NAME LOGIN        add a member (admins)
    god project remove-member NAME LOGIN     remove a member (admins)

  Run "god project <subcommand> -h" for the options of each.
`)
}

func (c *ProjectCommand) Run(args []string) int { return cli.RunResultHelp }

// projectRows are the key|value lines describing a project.
func projectRows(p *api.Project) []string {
	return []string{
		"Name|" + p.Name,
		"Description|" + orDash(p.Description),
		fmt.Sprintf("Priority|%d", p.Priority),
		"Members|" + orDash(strings.Join(p.Members, ", ")),
		"Quota|" + quotaText(p.Quota),
		"Created|" + formatTime(&p.Created),
	}
}

// quotaText describes a project quota, "-" for none.
func quotaText(q *api.ProjectQuota) string {
	if q == nil {
		return "-"
	}
	var parts []string
	if q.RunningJobs > 0 {
		parts = append(parts, fmt.Sprintf("%d jobs at once", q.RunningJobs))
	}
	if q.RunningCPU > 0 {
		parts = append(parts, fmt.Sprintf("%g cpu at once", q.RunningCPU))
	}
	if q.RunningMemory > 0 {
		parts = append(parts, api.FormatSize(q.RunningMemory)+" at once")
	}
	if q.RunningGPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d GPU(s) at once", q.RunningGPUs))
	}
	if q.CPUHours > 0 {
		parts = append(parts, fmt.Sprintf("%g core-hours per window", q.CPUHours))
	}
	return orDash(strings.Join(parts, ", "))
}

// priorityFlag parses -priority into *dst.
func priorityFlag(dst **int) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("priority must be a whole number from 0 to 100, got %q", s)
		}
		*dst = &n
		return nil
	}
}
