package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/godocker/god/api"
)

// JobLogsCommand prints a job's output.
type JobLogsCommand struct {
	Meta
}

func (c *JobLogsCommand) Synopsis() string { return "Print a job's output" }

func (c *JobLogsCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job logs [options] <ID>

  Print the standard output of a job (god.log in its job directory), or its
  standard error (god.err) with -stderr.

Logs Options:

  -f
    Follow: keep printing new output until the job is over.

  -stderr
    Print standard error instead of standard output.

` + generalOptionsUsage)
}

func (c *JobLogsCommand) Run(args []string) int {
	fs := c.FlagSet("job logs", false)
	follow := fs.Bool("f", false, "")
	stderr := fs.Bool("stderr", false, "")
	id, client, ok := c.jobArg(fs, args, c.Help())
	if !ok {
		return 1
	}
	stream := api.LogStdout
	if *stderr {
		stream = api.LogStderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rc, err := client.Jobs().Logs(ctx, id, stream, 0, *follow)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading logs of job %d: %s", id, err))
		return 1
	}
	defer rc.Close()
	if _, err := io.Copy(os.Stdout, rc); err != nil && ctx.Err() == nil {
		c.Ui.Error(fmt.Sprintf("Error reading logs of job %d: %s", id, err))
		return 1
	}
	return 0
}
