package command

import (
	"strings"

	"github.com/hashicorp/cli"
)

// OperatorCommand groups the commands for running a site.
type OperatorCommand struct {
	Meta
}

func (c *OperatorCommand) Synopsis() string { return "Inspect the site: the audit log, the agents" }

func (c *OperatorCommand) Help() string {
	return strings.TrimSpace(`
Usage: god operator <subcommand> [options] [args]

  Commands for running a GoDocker site.

    god operator audit     list who did what, and what was refused
    god operator members   list the agents of the cluster and the leader

  Run "god operator <subcommand> -h" for the options of each.
`)
}

func (c *OperatorCommand) Run(args []string) int { return cli.RunResultHelp }
