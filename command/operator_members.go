package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// OperatorMembersCommand lists the agents of a cluster.
type OperatorMembersCommand struct {
	Meta
}

func (c *OperatorMembersCommand) Synopsis() string { return "List the agents of the cluster" }

func (c *OperatorMembersCommand) Help() string {
	return strings.TrimSpace(`
Usage: god operator members [options]

  List the agents of the cluster as Consul sees them: each one's name, the
  address of its API, its roles (api, scheduler, watcher) with the health
  of each, and which one leads (schedules and dispatches). An agent without
  a consul block lists itself alone. Admins only.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *OperatorMembersCommand) Run(args []string) int {
	fs := c.FlagSet("operator members", true)
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	members, err := client.Operator().Members(context.Background())
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error listing the agents: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(members)
	}
	if len(members) == 0 {
		c.Ui.Output("No agents are registered in Consul")
		return 0
	}
	rows := []string{"Name|Address|Leader|Roles"}
	for _, m := range members {
		rows = append(rows, fmt.Sprintf("%s|%s|%t|%s", m.Name, orDash(m.Address), m.Leader, roles(m.Roles)))
	}
	c.Ui.Output(formatList(rows))
	return 0
}

// roles reads "api (passing), scheduler (critical)".
func roles(rs []api.RoleHealth) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s (%s)", r.Role, r.Status)
	}
	return orDash(strings.Join(parts, ", "))
}
