package command

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/cli"

	"github.com/godocker/god/api"
)

// Meta holds what every command shares: the UI and the connection flags.
type Meta struct {
	Ui cli.Ui

	address string
	json    bool

	// auth is how Client authenticated: set by Client, read by commands
	// that explain it (whoami).
	auth authSource
}

// FlagSet returns a flag set with the shared flags; withJSON adds -json.
func (m *Meta) FlagSet(name string, withJSON bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // commands print their own usage
	fs.StringVar(&m.address, "address", "", "")
	if withJSON {
		fs.BoolVar(&m.json, "json", false, "")
	}
	return fs
}

// config is the client configuration without any token: the address from
// -address, else GOD_ADDR, else the default socket.
func (m *Meta) config() *api.Config {
	cfg := api.DefaultConfig()
	cfg.Token = ""
	if m.address != "" {
		cfg.Address = m.address
	}
	return cfg
}

// Client returns an API client for the agent's address with the caller's
// token: GOD_TOKEN, else the token `god login` saved for that very address
// (never for another one). Without either, the agent identifies the caller
// on its Unix socket.
func (m *Meta) Client() (*api.Client, error) {
	cfg := m.config()
	if err := m.authenticate(cfg); err != nil {
		return nil, err
	}
	return api.NewClient(cfg)
}

// outputJSON prints v as indented JSON.
func (m *Meta) outputJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error encoding JSON: %s", err))
		return 1
	}
	m.Ui.Output(string(b))
	return 0
}

// parseFlags parses args, printing the command's help on a bad flag.
func (m *Meta) parseFlags(fs *flag.FlagSet, args []string, help string) bool {
	if err := fs.Parse(args); err != nil {
		if err != flag.ErrHelp {
			m.Ui.Error(fmt.Sprintf("Error parsing flags: %s", err))
		}
		m.Ui.Error(help)
		return false
	}
	return true
}

// parseJobID reads a job id argument.
func parseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not a job id: job ids are positive integers (see `god job status`)", s)
	}
	return id, nil
}

const generalOptionsUsage = `General Options:

  -address=<addr>
    The agent's address: unix:///path/god.sock or http://host:port.
    Overrides GOD_ADDR. Default: /run/god/god.sock, else the dev agent's
    /tmp/god-dev/god.sock.`

const jsonOptionUsage = `
  -json
    Print the API's JSON answer instead of a table.`

// jobArg parses flags and the one job id argument, and builds a client,
// printing what went wrong; ok is false when the command should exit 1.
func (m *Meta) jobArg(fs *flag.FlagSet, args []string, help string) (id int64, client *api.Client, ok bool) {
	if !m.parseFlags(fs, args, help) {
		return 0, nil, false
	}
	if fs.NArg() != 1 {
		m.Ui.Error("This command takes one argument: a job id")
		return 0, nil, false
	}
	id, err := parseJobID(fs.Arg(0))
	if err == nil {
		client, err = m.Client()
	}
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 0, nil, false
	}
	return id, client, true
}

// noArgs parses flags for a command without arguments and builds a client.
func (m *Meta) noArgs(fs *flag.FlagSet, args []string, help string) (*api.Client, bool) {
	if !m.parseFlags(fs, args, help) {
		return nil, false
	}
	if fs.NArg() != 0 {
		m.Ui.Error("This command takes no arguments")
		return nil, false
	}
	client, err := m.Client()
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error: %s", err))
		return nil, false
	}
	return client, true
}

// exactArgs parses flags for a command taking exactly n arguments, which
// want names (for the error: "a project name and a login"), and builds a
// client.
func (m *Meta) exactArgs(fs *flag.FlagSet, args []string, help string, n int, want string) (*api.Client, bool) {
	if !m.parseFlags(fs, args, help) {
		return nil, false
	}
	if fs.NArg() != n {
		count := map[int]string{1: "one argument", 2: "two arguments"}[n]
		m.Ui.Error(fmt.Sprintf("This command takes %s: %s", count, want))
		return nil, false
	}
	client, err := m.Client()
	if err != nil {
		m.Ui.Error(fmt.Sprintf("Error: %s", err))
		return nil, false
	}
	return client, true
}
