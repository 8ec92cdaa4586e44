package command

import (
	"context"
	"fmt"
	"strings"
)

// UserListCommand lists the accounts.
type UserListCommand struct {
	Meta
}

func (c *UserListCommand) Synopsis() string { return "List the accounts (admins)" }

func (c *UserListCommand) Help() string {
	return strings.TrimSpace(`
Usage: god user list [options]

  List every account the agent knows, by login: users appear at their first
  login or first use of the agent's Unix socket. Admins only. Inactive
  guests, waiting to be activated, show Active false.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *UserListCommand) Run(args []string) int {
	fs := c.FlagSet("user list", true)
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	accounts, err := client.Accounts().Users(context.Background())
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error listing accounts: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(accounts)
	}
	if len(accounts) == 0 {
		c.Ui.Output("No accounts")
		return 0
	}
	rows := []string{"Login|Kind|UID|Active|Admin|Priority|Last Login"}
	for _, a := range accounts {
		rows = append(rows, fmt.Sprintf("%s|%s|%d|%t|%t|%d|%s", a.Login, a.Kind, a.User.UID, a.Active, a.Admin, a.Priority, formatTime(a.LastLogin)))
	}
	c.Ui.Output(formatList(rows))
	return 0
}
