package command

import (
	"context"
	"fmt"
	"strings"
)

// ProjectListCommand lists projects.
type ProjectListCommand struct {
	Meta
}

func (c *ProjectListCommand) Synopsis() string { return "List your projects" }

func (c *ProjectListCommand) Help() string {
	return strings.TrimSpace(`
Usage: god project list [options]

  List the projects you are a member of (admins: every project), the
  default project first: it is open to everyone.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *ProjectListCommand) Run(args []string) int {
	fs := c.FlagSet("project list", true)
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	projects, err := client.Accounts().Projects(context.Background())
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error listing projects: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(projects)
	}
	if len(projects) == 0 {
		c.Ui.Output("No projects")
		return 0
	}
	rows := []string{"Name|Priority|Members|Description"}
	for _, p := range projects {
		members := "everyone"
		if p.Name != "default" || len(p.Members) > 0 {
			members = orDash(strings.Join(p.Members, ", "))
		}
		rows = append(rows, fmt.Sprintf("%s|%d|%s|%s", p.Name, p.Priority, members, orDash(oneLine(p.Description))))
	}
	c.Ui.Output(formatList(rows))
	return 0
}
