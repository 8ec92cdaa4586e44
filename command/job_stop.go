package command

import (
	"context"
	"fmt"
	"strings"
)

// JobStopCommand kills a job.
type JobStopCommand struct {
	Meta
}

func (c *JobStopCommand) Synopsis() string { return "Stop (kill) a job" }

func (c *JobStopCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job stop [options] <ID>

  Kill a job. A pending job ends at once; a running job's container is killed
  and removed. Either way the job ends "over (killed)" with exit code 137.
  Stopping a job that is already over changes nothing.

Stop Options:

  -detach
    Return as soon as the kill is requested instead of waiting for the job
    to be over.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *JobStopCommand) Run(args []string) int {
	fs := c.FlagSet("job stop", true)
	detach := fs.Bool("detach", false, "")
	id, client, ok := c.jobArg(fs, args, c.Help())
	if !ok {
		return 1
	}
	ctx := context.Background()
	j, err := client.Jobs().Stop(ctx, id)
	if err == nil && !*detach {
		j, err = waitOver(ctx, client, id, nil)
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error stopping job %d: %s", id, err))
		return 1
	}
	if c.json {
		return c.outputJSON(j)
	}
	c.Ui.Output(fmt.Sprintf("Job %d is %s", j.ID, statusText(j)))
	return 0
}
