package command

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/cli"

	"github.com/godocker/god/api"
)

// UserCommand groups the account subcommands.
type UserCommand struct {
	Meta
}

func (c *UserCommand) Synopsis() string { return "Show and manage accounts" }

func (c *UserCommand) Help() string {
	return strings.TrimSpace(`
Usage: god user <subcommand> [options] [args]

  Show your account and, for admins, manage everyone's. An account is who
  your jobs run as (uid, gid, groups, home), your priority in fair share,
  your projects and whether you have an API key.

    god user whoami                  show your account and how you are identified
    god user list                    list the accounts (admins)
    god user show LOGIN              show one account (yours, or any for admins)
    god user update [options] LOGIN  change a priority, activate or disable (admins)
    god user apikey [LOGIN]          make a new API key (admins: anyone's)

  Run "god user <subcommand> -h" for the options of each.
`)
}

func (c *UserCommand) Run(args []string) int { return cli.RunResultHelp }

// accountRows are the key|value lines describing an account.
func accountRows(a *api.Account) []string {
	rows := []string{
		"Login|" + a.Login,
		"Kind|" + a.Kind,
		fmt.Sprintf("User|%s (uid %d, gid %d)", orDash(a.User.Name), a.User.UID, a.User.GID),
		"Groups|" + groupsText(a),
		"Home|" + orDash(a.User.Home),
	}
	if a.Email != "" {
		rows = append(rows, "Email|"+a.Email)
	}
	apiKey := "not set"
	if a.APIKeySet {
		apiKey = "set"
		if a.APIKeyDate != nil {
			apiKey += " on " + formatTime(a.APIKeyDate)
		}
	}
	return append(rows,
		fmt.Sprintf("Active|%t", a.Active),
		fmt.Sprintf("Admin|%t", a.Admin),
		fmt.Sprintf("Priority|%d", a.Priority),
		"Projects|"+orDash(strings.Join(a.Projects, ", ")),
		"API Key|"+apiKey,
		"Created|"+formatTime(&a.Created),
		"Last Login|"+formatTime(a.LastLogin),
	)
}

// groupsText shows group names with their ids when both are known.
func groupsText(a *api.Account) string {
	gids := make([]string, len(a.User.Groups))
	for i, g := range a.User.Groups {
		gids[i] = strconv.Itoa(g)
	}
	switch {
	case len(a.Groups) > 0 && len(gids) > 0:
		return fmt.Sprintf("%s (gids %s)", strings.Join(a.Groups, ", "), strings.Join(gids, ", "))
	case len(a.Groups) > 0:
		return strings.Join(a.Groups, ", ")
	case len(gids) > 0:
		return "gids " + strings.Join(gids, ", ")
	}
	return "-"
}

// expiresText says when a token expires, and how soon.
func expiresText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmt.Sprintf("%s (in %s)", formatTime(&t), time.Until(t).Round(time.Minute))
}
