package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
)

// VolumeCommand groups the volume subcommands.
type VolumeCommand struct{ Meta }

func (c *VolumeCommand) Synopsis() string { return "Show the volumes jobs may mount" }

func (c *VolumeCommand) Help() string {
	return strings.TrimSpace(`
Usage: god volume <subcommand> [options]

  The site's volumes: host directories jobs mount by name, with
  volumes = ["name"] in their spec. Administrators define them in the
  agent's configuration (volume blocks), with who may use each.

Subcommands:
    list    List the volumes and whether you may use them
`)
}

func (c *VolumeCommand) Run([]string) int { return cli.RunResultHelp }

// VolumeListCommand lists the volumes.
type VolumeListCommand struct{ Meta }

func (c *VolumeListCommand) Synopsis() string { return "List the volumes and whether you may use them" }

func (c *VolumeListCommand) Help() string {
	return strings.TrimSpace(`
Usage: god volume list [options]

  List the volumes of this site: name, host path ($USER, $UID and $HOME
  stand for the job owner's), mount point in the container, read-only or
  not, who may use it (users, groups, projects; "everyone" when unrestricted),
  and whether you may (in the default project: a volume reserved to a
  project needs a job submitted to it). "home" is your home directory.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *VolumeListCommand) Run(args []string) int {
	fs := c.FlagSet("volume list", true)
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	vols, err := client.Accounts().Volumes(context.Background())
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error listing volumes: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(vols)
	}
	rows := []string{"Name|Path|Mount|Mode|For|Usable"}
	for _, v := range vols {
		mode := "rw"
		if v.ReadOnly {
			mode = "ro"
		}
		var who []string
		if len(v.Users) > 0 {
			who = append(who, "users "+strings.Join(v.Users, ","))
		}
		if len(v.Groups) > 0 {
			who = append(who, "groups "+strings.Join(v.Groups, ","))
		}
		if len(v.Projects) > 0 {
			who = append(who, "projects "+strings.Join(v.Projects, ","))
		}
		if len(who) == 0 {
			who = []string{"everyone"}
		}
		rows = append(rows, fmt.Sprintf("%s|%s|%s|%s|%s|%t", v.Name, v.Path, v.Mount, mode, strings.Join(who, "; "), v.Usable))
	}
	c.Ui.Output(formatList(rows))
	return 0
}
