package command

import (
	"context"
	"fmt"
	"strings"
)

// ProjectShowCommand shows one project.
type ProjectShowCommand struct {
	Meta
}

func (c *ProjectShowCommand) Synopsis() string { return "Show a project" }

func (c *ProjectShowCommand) Help() string {
	return strings.TrimSpace(`
Usage: god project show [options] <NAME>

  Show a project: description, priority, members and creation date. Members
  see their projects, admins any.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *ProjectShowCommand) Run(args []string) int {
	fs := c.FlagSet("project show", true)
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a project name")
	if !ok {
		return 1
	}
	name := fs.Arg(0)
	p, err := client.Accounts().Project(context.Background(), name)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading project %s: %s", name, err))
		return 1
	}
	if c.json {
		return c.outputJSON(p)
	}
	c.Ui.Output(formatKV(projectRows(p)))
	return 0
}
