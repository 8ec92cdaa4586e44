package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// ProjectMemberCommand adds a member to a project or removes one.
type ProjectMemberCommand struct {
	Meta
	add bool
}

func (c *ProjectMemberCommand) verb() string {
	if c.add {
		return "add-member"
	}
	return "remove-member"
}

func (c *ProjectMemberCommand) Synopsis() string {
	if c.add {
		return "Add a member to a project (admins)"
	}
	return "Remove a member from a project (admins)"
}

func (c *ProjectMemberCommand) Help() string {
	what := `
  Add a user to a project. Admins only. The user must be known to the agent
  (users appear at their first login or first use of its Unix socket).
  Adding a member twice changes nothing.`
	if !c.add {
		what = `
  Remove a user from a project. Admins only. Their jobs in it go on.`
	}
	return strings.TrimSpace(fmt.Sprintf("Usage: god project %s [options] <NAME> <LOGIN>\n%s\n\nOptions:\n%s\n\n%s", c.verb(), what, jsonOptionUsage, generalOptionsUsage))
}

func (c *ProjectMemberCommand) Run(args []string) int {
	fs := c.FlagSet("project "+c.verb(), true)
	client, ok := c.exactArgs(fs, args, c.Help(), 2, "a project name and a login")
	if !ok {
		return 1
	}
	name, login := fs.Arg(0), fs.Arg(1)
	var p *api.Project
	var err error
	if c.add {
		p, err = client.Accounts().AddMember(context.Background(), name, login)
	} else {
		p, err = client.Accounts().RemoveMember(context.Background(), name, login)
	}
	if err != nil {
		how := "add %s to"
		if !c.add {
			how = "remove %s from"
		}
		c.Ui.Error(fmt.Sprintf("Error: cannot "+how+" project %s: %s", login, name, err))
		return 1
	}
	if c.json {
		return c.outputJSON(p)
	}
	c.Ui.Output(fmt.Sprintf("Project %s members: %s", p.Name, orDash(strings.Join(p.Members, ", "))))
	return 0
}
