package command

import (
	"context"
	"fmt"
	"strings"
)

// UserShowCommand shows one account.
type UserShowCommand struct {
	Meta
}

func (c *UserShowCommand) Synopsis() string { return "Show one account" }

func (c *UserShowCommand) Help() string {
	return strings.TrimSpace(`
Usage: god user show [options] <LOGIN>

  Show an account: yours, or anyone's for an admin. A guest's login is
  "guest:" followed by an id.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *UserShowCommand) Run(args []string) int {
	fs := c.FlagSet("user show", true)
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a login")
	if !ok {
		return 1
	}
	login := fs.Arg(0)
	a, err := client.Accounts().User(context.Background(), login)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading the account %s: %s", login, err))
		return 1
	}
	if c.json {
		return c.outputJSON(a)
	}
	c.Ui.Output(formatKV(accountRows(a)))
	return 0
}
