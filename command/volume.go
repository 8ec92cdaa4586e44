package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/cli"

	"github.com/godocker/god/api"
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
    create    Define a volume (admins)
    delete    Delete a volume admins defined (admins)
    list      List the volumes and whether you may use them
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

// VolumeCreateCommand defines a volume.
type VolumeCreateCommand struct{ Meta }

func (c *VolumeCreateCommand) Synopsis() string { return "Define a volume (admins)" }

func (c *VolumeCreateCommand) Help() string {
	return strings.TrimSpace(`
Usage: god volume create [options] -path <PATH> <NAME>

  Define a volume users may mount by name, checked as the agent's volume
  blocks are; every agent of the site can use it at once. Admins only. A
  name of the agent's configuration cannot be taken; to change a volume,
  delete it and create it again.

Create Options:

  -path=<path>
    The host directory; required. $USER, $UID and $HOME stand for the job
    owner's (write them in single quotes in a shell). It must be absolute
    (or start with $HOME) and is never the Docker socket or above it.

  -mount=<path>
    Where it appears in the container. Default: the path. Required when
    the path has variables; never over /, /etc, /proc, /sys, /dev, /bin,
    /usr, /lib or /mnt/go-docker.

  -read-only
    Mount it read-only. Root jobs always get volumes read-only.

  -users=<a,b>, -groups=<g,h>, -projects=<p,q>
    Who may mount it: these logins, members of these groups, jobs of these
    projects. All empty: everyone.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *VolumeCreateCommand) Run(args []string) int {
	fs := c.FlagSet("volume create", true)
	v := &api.Volume{}
	var users, groups, projects string
	fs.StringVar(&v.Path, "path", "", "")
	fs.StringVar(&v.Mount, "mount", "", "")
	fs.BoolVar(&v.ReadOnly, "read-only", false, "")
	fs.StringVar(&users, "users", "", "")
	fs.StringVar(&groups, "groups", "", "")
	fs.StringVar(&projects, "projects", "", "")
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a volume name")
	if !ok {
		return 1
	}
	if v.Path == "" {
		c.Ui.Error("Error: -path is required: the host directory of the volume")
		return 1
	}
	v.Name, v.Users, v.Groups, v.Projects = fs.Arg(0), splitList(users), splitList(groups), splitList(projects)
	out, err := client.Accounts().CreateVolume(context.Background(), v)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error creating volume %s: %s", v.Name, err))
		return 1
	}
	if c.json {
		return c.outputJSON(out)
	}
	c.Ui.Output(fmt.Sprintf("Volume %s created: %s at %s", out.Name, out.Path, out.Mount))
	return 0
}

// splitList reads "a,b" into its non-empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// VolumeDeleteCommand removes a volume.
type VolumeDeleteCommand struct{ Meta }

func (c *VolumeDeleteCommand) Synopsis() string { return "Delete a volume admins defined (admins)" }

func (c *VolumeDeleteCommand) Help() string {
	return strings.TrimSpace(`
Usage: god volume delete [options] <NAME>

  Delete a volume defined with "god volume create". Admins only. Volumes of
  the agent's configuration are removed there. Jobs that asked for it and
  have not started end with the reason when they are dispatched.

` + generalOptionsUsage)
}

func (c *VolumeDeleteCommand) Run(args []string) int {
	fs := c.FlagSet("volume delete", false)
	client, ok := c.exactArgs(fs, args, c.Help(), 1, "a volume name")
	if !ok {
		return 1
	}
	name := fs.Arg(0)
	if err := client.Accounts().DeleteVolume(context.Background(), name); err != nil {
		c.Ui.Error(fmt.Sprintf("Error deleting volume %s: %s", name, err))
		return 1
	}
	c.Ui.Output(fmt.Sprintf("Volume %s deleted", name))
	return 0
}
