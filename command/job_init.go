package command

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// JobInitCommand writes an example job spec.
type JobInitCommand struct {
	Meta
}

const exampleJob = `# A GoDocker job. Submit it with:  god job run task.hcl
# Reference: website/content/docs/job-specification.md
job "hello" {
  description = "A first job"

  # The container image. Omit it to use the site's default image.
  # image = "debian:bookworm-slim"

  # A command run by bash; use script = file("run.sh") for a whole script.
  # It runs as you (whoami, id and $HOME work) in /mnt/go-docker, the job
  # directory, where god.log (stdout), god.err (stderr) and god.info land.
  command = <<-EOT
    echo "hello from job $GODOCKER_JID, running as $(whoami)"
    id
    echo "working in $PWD, home is $HOME"
  EOT

  resources {
    cpu    = 1        # cores; fractions such as 0.5 are fine
    memory = "256MiB" # binary units: MiB, GiB
  }

  # project = "myteam"          # count it for a project (god project list)
  # volumes = ["home"]          # mount your home directory at its own path
  # env     = { SAMPLE = "s1" }
  # tags    = ["example"]
}
`

func (c *JobInitCommand) Synopsis() string { return "Write an example job spec" }

func (c *JobInitCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job init [options] [path]

  Write an annotated example job spec to path (default task.hcl). It refuses
  to overwrite an existing file unless -force is given.

Init Options:

  -force
    Overwrite the file if it exists.
`)
}

func (c *JobInitCommand) Run(args []string) int {
	fs := c.FlagSet("job init", false)
	force := fs.Bool("force", false, "")
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	path := "task.hcl"
	switch fs.NArg() {
	case 0:
	case 1:
		path = fs.Arg(0)
	default:
		c.Ui.Error("This command takes at most one argument: the path to write")
		return 1
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		c.Ui.Error(fmt.Sprintf("Error: %s already exists; use -force to overwrite it", path))
		return 1
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error writing %s: %s", path, err))
		return 1
	}
	_, err = f.WriteString(exampleJob)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error writing %s: %s", path, err))
		return 1
	}
	c.Ui.Output(fmt.Sprintf("Example job written to %s. Submit it with: god job run %s", path, path))
	return 0
}
