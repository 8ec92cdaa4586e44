package command

import (
	"context"
	"fmt"
	"strings"
)

// UserDeleteCommand deletes an account.
type UserDeleteCommand struct {
	Meta
}

func (c *UserDeleteCommand) Synopsis() string { return "Delete a user's account (admins)" }

func (c *UserDeleteCommand) Help() string {
	return strings.TrimSpace(`
Usage: god user delete [options] <LOGIN>

  Delete a user's account: its priority, API key and activation. Admins
  only; you cannot delete your own. The user's jobs are kept. A user of the
  system database or of a directory gets a new account at their next login
  or use of the agent's socket: this is how to sort out a login held by the
  wrong kind of account (a local account where an LDAP user logs in with the
  same name and another uid, say).

` + generalOptionsUsage)
}

func (c *UserDeleteCommand) Run(args []string) int {
	fs := c.FlagSet("user delete", false)
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a login")
	if !ok {
		return 1
	}
	login := fs.Arg(0)
	if err := client.Accounts().DeleteUser(context.Background(), login); err != nil {
		c.Ui.Error(fmt.Sprintf("Error deleting user %s: %s", login, err))
		return 1
	}
	c.Ui.Output(fmt.Sprintf("User %s deleted", login))
	return 0
}
