package command

import (
	"github.com/godocker/god/version"
)

// VersionCommand prints the version.
type VersionCommand struct {
	Meta
}

func (c *VersionCommand) Synopsis() string { return "Print the version of god" }
func (c *VersionCommand) Help() string     { return "Usage: god version\n\n  Print the version of god." }
func (c *VersionCommand) Run(_ []string) int {
	c.Ui.Output("god " + version.Version)
	return 0
}
