package command

import (
	"context"
	"fmt"
	"strings"
)

// UserAPIKeyCommand makes a new API key.
type UserAPIKeyCommand struct {
	Meta
}

func (c *UserAPIKeyCommand) Synopsis() string { return "Make a new API key" }

func (c *UserAPIKeyCommand) Help() string {
	return strings.TrimSpace(`
Usage: god user apikey [options] [LOGIN]

  Make a new API key for your account (admins: for LOGIN's) and print it,
  alone on standard output, so that "god user apikey > key" keeps it. It is
  shown this once: the agent keeps only a hash. The previous key, if any,
  stops working at once. Log in with it from anywhere:

      god login -user LOGIN -apikey-stdin < key

` + generalOptionsUsage)
}

func (c *UserAPIKeyCommand) Run(args []string) int {
	fs := c.FlagSet("user apikey", false)
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	if fs.NArg() > 1 {
		c.Ui.Error("This command takes at most one argument: a login")
		return 1
	}
	login := fs.Arg(0)
	client, err := c.Client()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	res, err := client.Accounts().RotateAPIKey(context.Background(), login)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error making a new API key: %s", err))
		return 1
	}
	whose := "your"
	if login != "" && login != "self" {
		whose = login + "'s"
	}
	c.Ui.Output(res.APIKey)
	c.Ui.Warn(fmt.Sprintf("This is %s new API key, shown only this once: keep it secret. The previous key, if any, no longer works.", whose))
	return 0
}
