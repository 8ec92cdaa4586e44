package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/jobspec"
)

var (
	_ cli.Command = (*AgentCommand)(nil)
	_ cli.Command = (*JobInitCommand)(nil)
	_ cli.Command = (*JobRunCommand)(nil)
	_ cli.Command = (*JobStatusCommand)(nil)
	_ cli.Command = (*JobLogsCommand)(nil)
	_ cli.Command = (*JobStopCommand)(nil)
	_ cli.Command = (*VersionCommand)(nil)
	_ cli.Command = (*LoginCommand)(nil)
	_ cli.Command = (*LogoutCommand)(nil)
	_ cli.Command = (*UserWhoamiCommand)(nil)
	_ cli.Command = (*ProjectMemberCommand)(nil)
	_ cli.Command = (*OperatorAuditCommand)(nil)
)

func run(t *testing.T, args ...string) (out, errOut string, code int) {
	t.Helper()
	ui := cli.NewMockUi()
	code = RunWith(args, ui)
	return ui.OutputWriter.String(), ui.ErrorWriter.String(), code
}

// The example `god job init` writes is a valid job spec: it cannot rot.
func TestJobInit_WritesValidSpec(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "task.hcl")
	out, errOut, code := run(t, "job", "init", path)
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "god job run "+path)
	spec, diags := jobspec.ParseFile(path)
	must.False(t, diags.HasErrors(), must.Sprint(diags.Error()))
	must.Eq(t, "hello", spec.Name)
	must.SliceEmpty(t, jobspec.Validate(spec))

	_, errOut, code = run(t, "job", "init", path)
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "already exists; use -force")
	_, _, code = run(t, "job", "init", "-force", path)
	must.Eq(t, 0, code)
}

// A spec error is shown with file, line, column and a snippet, and nothing
// is sent (no agent is running here).
func TestJobRun_SpecErrorsLocal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.hcl")
	must.NoError(t, os.WriteFile(path, []byte("job \"x\" {\n  command = \"true\"\n  resources {\n    memory = \"lots\"\n  }\n}\n"), 0o644))
	_, errOut, code := run(t, "job", "run", "-address", "unix:///nonexistent/god.sock", path)
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "bad.hcl line 4")
	must.StrContains(t, errOut, `memory = "lots"`)
	must.StrNotContains(t, errOut, "cannot reach")
}

// Usage mistakes get a clear message and exit 1.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"job", "run"}, "takes at least one argument"},
		{[]string{"job", "run", "-nope", "x.hcl"}, "flag provided but not defined: -nope"},
		{[]string{"job", "run", "missing.hcl"}, "no such file"},
		{[]string{"job", "logs"}, "takes one argument"},
		{[]string{"job", "stop", "abc"}, "not a job id"},
		{[]string{"job", "status", "1", "2"}, "at most one argument"},
		{[]string{"job", "status", "-address", "ftp://x"}, "scheme must be unix, http or https"},
		{[]string{"agent", "extra"}, "takes no arguments"},
		{[]string{"job", "status", "-project", "physics", "1"}, "-project selects among many jobs"},
		{[]string{"login", "extra"}, "takes no arguments"},
		{[]string{"login", "-user"}, "flag needs an argument: -user"},
		{[]string{"login", "-guest", "-apikey-stdin"}, "-guest takes neither -user nor -apikey-stdin"},
		{[]string{"login", "-guest", "-user", "alice"}, "-guest takes neither"},
		{[]string{"login", "-apikey", "k"}, "flag provided but not defined: -apikey"},
		{[]string{"login", "-token", "t"}, "flag provided but not defined: -token"},
		{[]string{"logout", "x"}, "takes no arguments"},
		{[]string{"user", "whoami", "x"}, "takes no arguments"},
		{[]string{"user", "show"}, "takes one argument: a login"},
		{[]string{"user", "update", "alice"}, "Nothing to update: give -priority or -active"},
		{[]string{"user", "update", "-priority", "high", "alice"}, "priority must be a whole number from 0 to 100"},
		{[]string{"user", "update", "-active=maybe", "alice"}, "active must be true or false"},
		{[]string{"user", "apikey", "a", "b"}, "at most one argument"},
		{[]string{"project", "show"}, "takes one argument: a project name"},
		{[]string{"project", "create", "-priority", "x", "p"}, "priority must be a whole number"},
		{[]string{"project", "update", "p"}, "Nothing to update: give -description, -priority or -quota"},
		{[]string{"project", "delete", "a", "b"}, "takes one argument: a project name"},
		{[]string{"project", "add-member", "p"}, "takes two arguments: a project name and a login"},
		{[]string{"project", "remove-member", "p", "a", "b"}, "takes two arguments"},
		{[]string{"operator", "audit", "-since", "yesterday"}, "since must be a duration such as 24h or 7d"},
		{[]string{"operator", "audit", "-limit", "0"}, "limit must be a positive number"},
		{[]string{"operator", "audit", "x"}, "takes no arguments"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := run(t, tc.args...)
			must.Eq(t, 1, code)
			must.StrContains(t, errOut, tc.want)
		})
	}
}

// An unreachable agent is reported with where it was looked for and how to
// fix it.
func TestUnreachableAgent(t *testing.T) {
	_, errOut, code := run(t, "job", "status", "-address", "unix://"+filepath.Join(t.TempDir(), "god.sock"))
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "cannot reach the GoDocker agent")
	must.StrContains(t, errOut, "GOD_ADDR")
}

// Every flag a command parses is documented in its help.
func TestHelpDocumentsFlags(t *testing.T) {
	for name, factory := range Commands(Meta{Ui: cli.NewMockUi()}) {
		c, err := factory()
		must.NoError(t, err)
		help := c.Help()
		must.StrContains(t, help, "Usage: god "+name, must.Sprint(name))
		for _, flag := range flagsOf(name) {
			must.StrContains(t, help, "-"+flag, must.Sprintf("%s: flag -%s undocumented", name, flag))
		}
	}
}

// flagsOf lists the flags each command defines (kept beside the test so a
// new flag without help fails here).
func flagsOf(name string) []string {
	common := []string{"address"}
	switch name {
	case "agent":
		return []string{"dev", "config", "data-dir"}
	case "job run":
		return append(common, "wait", "gpu", "count", "json")
	case "job status":
		return append(common, "state", "limit", "project", "json")
	case "job logs":
		return append(common, "f", "stderr")
	case "job stop":
		return append(common, "detach", "json")
	case "job init":
		return []string{"force"}
	case "job update":
		return append(common, "max-lifespan", "throttle", "json")
	case "job why", "queue":
		return append(common, "json")
	case "usage":
		return append(common, "user", "project", "group", "json")
	case "job archive":
		return append(common, "older-than", "tag", "purge", "json")
	case "job hold", "job release", "job suspend", "job resume", "job reschedule":
		return append(common, "json")
	case "login":
		return append(common, "user", "apikey-stdin", "guest")
	case "logout", "user apikey", "project delete":
		return common
	case "user whoami", "user list", "user show", "project list", "project show",
		"project add-member", "project remove-member":
		return append(common, "json")
	case "user update":
		return append(common, "priority", "active", "json")
	case "project create":
		return append(common, "description", "priority", "members", "json")
	case "project update":
		return append(common, "description", "priority", "quota", "json")
	case "volume create":
		return append(common, "path", "mount", "read-only", "users", "groups", "projects", "json")
	case "operator audit":
		return append(common, "actor", "action", "since", "limit", "json")
	case "operator members":
		return append(common, "json")
	}
	return nil
}
