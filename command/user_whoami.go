package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// UserWhoamiCommand shows the caller's account.
type UserWhoamiCommand struct {
	Meta
}

func (c *UserWhoamiCommand) Synopsis() string { return "Show your account and how you are identified" }

func (c *UserWhoamiCommand) Help() string {
	return strings.TrimSpace(`
Usage: god user whoami [options]

  Show your account as the agent sees it: login and kind (local, ldap or
  guest), who your jobs run as (uid, gid, groups, home), whether you are an
  admin, your projects and priority, whether you have an API key, and how
  this command identified you: the kernel on the agent's Unix socket, the
  token of "god login", or GOD_TOKEN.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *UserWhoamiCommand) Run(args []string) int {
	fs := c.FlagSet("user whoami", true)
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	ctx := context.Background()
	a, err := client.Accounts().Whoami(ctx)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading your account: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(a)
	}
	rows := accountRows(a)
	var via string
	if self, err := client.Agent().Self(ctx); err == nil {
		via = self.Caller.Via
	}
	rows = append(rows, "Identified By|"+c.identifiedBy(via))
	c.Ui.Output(formatKV(rows))
	return 0
}

// identifiedBy says how the agent knew the caller: via as the agent
// reports it, with where the CLI found the token.
func (c *UserWhoamiCommand) identifiedBy(via string) string {
	switch {
	case c.auth.env:
		return "a token, from GOD_TOKEN"
	case c.auth.saved != nil && !c.auth.expired:
		return fmt.Sprintf("a token saved by god login in %s, expires %s", c.auth.file, expiresText(c.auth.saved.Expires))
	case via == api.ViaUnix:
		return "the kernel, on the agent's Unix socket"
	case via == api.ViaLocal:
		return "the kernel, on the dev agent's loopback port"
	case via != "":
		return via
	}
	return "-"
}
