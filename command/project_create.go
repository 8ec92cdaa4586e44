package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// ProjectCreateCommand creates a project.
type ProjectCreateCommand struct {
	Meta
}

func (c *ProjectCreateCommand) Synopsis() string { return "Create a project (admins)" }

func (c *ProjectCreateCommand) Help() string {
	return strings.TrimSpace(`
Usage: god project create [options] <NAME>

  Create a project. Admins only. Names use lower-case letters, digits, "-"
  and "_", starting with a letter, at most 64 characters; "default" is
  taken. Members must be known users (users appear at their first login or
  first use of the agent's Unix socket).

Create Options:

  -description=<text>
    What the project is for, at most 1000 characters.

  -priority=<n>
    The project's priority in fair share, 1 to 100 (default 50; the agent
    reads 0 as the default: set 0 with "god project update").

  -members=<login,login>
    The first members, comma-separated.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *ProjectCreateCommand) Run(args []string) int {
	fs := c.FlagSet("project create", true)
	var priority *int
	p := &api.Project{}
	fs.StringVar(&p.Description, "description", "", "")
	fs.Func("priority", "", priorityFlag(&priority))
	fs.Func("members", "", func(s string) error {
		for _, m := range strings.Split(s, ",") {
			if m = strings.TrimSpace(m); m != "" {
				p.Members = append(p.Members, m)
			}
		}
		return nil
	})
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a project name")
	if !ok {
		return 1
	}
	p.Name = fs.Arg(0)
	if priority != nil {
		p.Priority = *priority
	}
	out, err := client.Accounts().CreateProject(context.Background(), p)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error creating project %s: %s", p.Name, err))
		return 1
	}
	if c.json {
		return c.outputJSON(out)
	}
	c.Ui.Output(fmt.Sprintf("Project %s created\n%s", out.Name, formatKV(projectRows(out))))
	return 0
}
