// Package command is the god CLI: one file per command, each a thin client
// of the HTTP API through package api (the agent command starts the daemon).
package command

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/cli"

	"github.com/godocker/god/version"
)

// Run runs the CLI with args and returns the exit code.
func Run(args []string) int {
	return RunWith(args, &cli.BasicUi{Reader: os.Stdin, Writer: os.Stdout, ErrorWriter: os.Stderr})
}

// RunWith runs the CLI against a given UI (tests use cli.MockUi).
func RunWith(args []string, ui cli.Ui) int {
	c := cli.NewCLI("god", version.Version)
	c.Args = args
	c.Commands = Commands(Meta{Ui: ui})
	c.HelpWriter, c.ErrorWriter = writers(ui)
	code, err := c.Run()
	if err != nil {
		ui.Error(fmt.Sprintf("Error executing CLI: %s", err))
		return 1
	}
	return code
}

// writers are where help text goes: written in pieces by the cli library,
// so straight to the UI's streams rather than line by line through Ui.
func writers(ui cli.Ui) (out, errOut io.Writer) {
	switch u := ui.(type) {
	case *cli.BasicUi:
		return u.Writer, u.ErrorWriter
	case *cli.MockUi:
		return u.OutputWriter, u.ErrorWriter
	}
	return os.Stdout, os.Stderr
}

// Commands returns every command keyed by its name.
func Commands(m Meta) map[string]cli.CommandFactory {
	cmds := map[string]cli.CommandFactory{
		"agent":         func() (cli.Command, error) { return &AgentCommand{Meta: m}, nil },
		"job":           func() (cli.Command, error) { return &JobCommand{Meta: m}, nil },
		"job init":      func() (cli.Command, error) { return &JobInitCommand{Meta: m}, nil },
		"job run":       func() (cli.Command, error) { return &JobRunCommand{Meta: m}, nil },
		"job status":    func() (cli.Command, error) { return &JobStatusCommand{Meta: m}, nil },
		"job logs":      func() (cli.Command, error) { return &JobLogsCommand{Meta: m}, nil },
		"job exec":      func() (cli.Command, error) { return &JobExecCommand{Meta: m}, nil },
		"job ssh":       func() (cli.Command, error) { return &JobSSHCommand{Meta: m}, nil },
		"job stop":      func() (cli.Command, error) { return &JobStopCommand{Meta: m}, nil },
		"job update":    func() (cli.Command, error) { return &JobUpdateCommand{Meta: m}, nil },
		"job archive":   func() (cli.Command, error) { return &JobArchiveCommand{Meta: m}, nil },
		"job why":       func() (cli.Command, error) { return &JobWhyCommand{Meta: m}, nil },
		"queue":         func() (cli.Command, error) { return &QueueCommand{Meta: m}, nil },
		"usage":         func() (cli.Command, error) { return &UsageCommand{Meta: m}, nil },
		"version":       func() (cli.Command, error) { return &VersionCommand{Meta: m}, nil },
		"volume":        func() (cli.Command, error) { return &VolumeCommand{Meta: m}, nil },
		"volume list":   func() (cli.Command, error) { return &VolumeListCommand{Meta: m}, nil },
		"volume create": func() (cli.Command, error) { return &VolumeCreateCommand{Meta: m}, nil },
		"volume delete": func() (cli.Command, error) { return &VolumeDeleteCommand{Meta: m}, nil },

		"login":                 func() (cli.Command, error) { return &LoginCommand{Meta: m}, nil },
		"logout":                func() (cli.Command, error) { return &LogoutCommand{Meta: m}, nil },
		"user":                  func() (cli.Command, error) { return &UserCommand{Meta: m}, nil },
		"user whoami":           func() (cli.Command, error) { return &UserWhoamiCommand{Meta: m}, nil },
		"user list":             func() (cli.Command, error) { return &UserListCommand{Meta: m}, nil },
		"user show":             func() (cli.Command, error) { return &UserShowCommand{Meta: m}, nil },
		"user update":           func() (cli.Command, error) { return &UserUpdateCommand{Meta: m}, nil },
		"user apikey":           func() (cli.Command, error) { return &UserAPIKeyCommand{Meta: m}, nil },
		"user delete":           func() (cli.Command, error) { return &UserDeleteCommand{Meta: m}, nil },
		"project":               func() (cli.Command, error) { return &ProjectCommand{Meta: m}, nil },
		"project list":          func() (cli.Command, error) { return &ProjectListCommand{Meta: m}, nil },
		"project show":          func() (cli.Command, error) { return &ProjectShowCommand{Meta: m}, nil },
		"project create":        func() (cli.Command, error) { return &ProjectCreateCommand{Meta: m}, nil },
		"project update":        func() (cli.Command, error) { return &ProjectUpdateCommand{Meta: m}, nil },
		"project delete":        func() (cli.Command, error) { return &ProjectDeleteCommand{Meta: m}, nil },
		"project add-member":    func() (cli.Command, error) { return &ProjectMemberCommand{Meta: m, add: true}, nil },
		"project remove-member": func() (cli.Command, error) { return &ProjectMemberCommand{Meta: m}, nil },
		"operator":              func() (cli.Command, error) { return &OperatorCommand{Meta: m}, nil },
		"operator audit":        func() (cli.Command, error) { return &OperatorAuditCommand{Meta: m}, nil },
		"operator members":      func() (cli.Command, error) { return &OperatorMembersCommand{Meta: m}, nil },
	}
	for verb, c := range jobActions(m) {
		cmds["job "+verb] = func() (cli.Command, error) { return c, nil }
	}
	return cmds
}
