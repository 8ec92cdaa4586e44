package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// ProjectUpdateCommand changes a project.
type ProjectUpdateCommand struct {
	Meta
}

func (c *ProjectUpdateCommand) Synopsis() string { return "Change a project (admins)" }

func (c *ProjectUpdateCommand) Help() string {
	return strings.TrimSpace(`
Usage: god project update [options] <NAME>

  Change a project's description or priority. Admins only. Members change
  with "god project add-member" and "remove-member". The default project
  cannot be changed.

Update Options:

  -description=<text>
    The new description ("" clears it).

  -priority=<n>
    The new priority in fair share, 0 to 100.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *ProjectUpdateCommand) Run(args []string) int {
	fs := c.FlagSet("project update", true)
	var u api.ProjectUpdate
	fs.Func("description", "", func(s string) error { u.Description = &s; return nil })
	fs.Func("priority", "", priorityFlag(&u.Priority))
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a project name")
	if !ok {
		return 1
	}
	if u.Description == nil && u.Priority == nil {
		c.Ui.Error("Nothing to update: give -description or -priority")
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
