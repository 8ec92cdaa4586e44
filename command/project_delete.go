package command

import (
	"context"
	"fmt"
	"strings"
)

// ProjectDeleteCommand deletes a project.
type ProjectDeleteCommand struct {
	Meta
}

func (c *ProjectDeleteCommand) Synopsis() string { return "Delete a project (admins)" }

func (c *ProjectDeleteCommand) Help() string {
	return strings.TrimSpace(`
Usage: god project delete [options] <NAME>

  Delete a project. Admins only. Jobs submitted to it keep its name. The
  default project cannot be deleted.

` + generalOptionsUsage)
}

func (c *ProjectDeleteCommand) Run(args []string) int {
	fs := c.FlagSet("project delete", false)
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a project name")
	if !ok {
		return 1
	}
	name := fs.Arg(0)
	if err := client.Accounts().DeleteProject(context.Background(), name); err != nil {
		c.Ui.Error(fmt.Sprintf("Error deleting project %s: %s", name, err))
		return 1
	}
	c.Ui.Output(fmt.Sprintf("Project %s deleted", name))
	return 0
}
