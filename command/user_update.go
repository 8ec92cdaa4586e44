package command

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/godocker/god/api"
)

// UserUpdateCommand changes an account.
type UserUpdateCommand struct {
	Meta
}

func (c *UserUpdateCommand) Synopsis() string {
	return "Change an account's priority or activate it (admins)"
}

func (c *UserUpdateCommand) Help() string {
	return strings.TrimSpace(`
Usage: god user update [options] <LOGIN>

  Change an account. Admins only. A new guest cannot run jobs until an
  admin activates the account with -active=true; -active=false disables
  any account (its logins and tokens are refused) without deleting it.

Update Options:

  -priority=<n>
    The user's priority in fair share, 0 to 100 (new accounts have 50).

  -active=<true|false>
    Activate or disable the account. Write it with "=": -active=false.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *UserUpdateCommand) Run(args []string) int {
	fs := c.FlagSet("user update", true)
	var u api.AccountUpdate
	fs.Func("priority", "", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("priority must be a whole number from 0 to 100, got %q", s)
		}
		u.Priority = &n
		return nil
	})
	fs.BoolFunc("active", "", func(s string) error {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("active must be true or false, got %q", s)
		}
		u.Active = &b
		return nil
	})
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a login")
	if !ok {
		return 1
	}
	if u.Priority == nil && u.Active == nil {
		c.Ui.Error("Nothing to update: give -priority or -active")
		return 1
	}
	login := fs.Arg(0)
	a, err := client.Accounts().UpdateUser(context.Background(), login, &u)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error updating the account %s: %s", login, err))
		return 1
	}
	if c.json {
		return c.outputJSON(a)
	}
	c.Ui.Output(fmt.Sprintf("Account %s updated: active %t, priority %d", a.Login, a.Active, a.Priority))
	return 0
}
