package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// JobUpdateCommand changes a pending or running job.
type JobUpdateCommand struct {
	Meta
}

func (c *JobUpdateCommand) Synopsis() string { return "Change a pending or running job" }

func (c *JobUpdateCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job update [options] <ID>

  Change the fields of a pending or running job that may change: its max
  lifespan, and an array's throttle (how many of its tasks run at once).

Update Options:

  -max-lifespan=<duration>
    Kill the job once it has run this long: "90m", "12h", "7d". On an array,
    every unfinished task gets it.

  -throttle=<n>
    Run at most n tasks of the array at once; 0 removes the limit.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *JobUpdateCommand) Run(args []string) int {
	fs := c.FlagSet("job update", true)
	var u api.JobUpdate
	fs.Func("max-lifespan", "", func(s string) error { u.MaxLifespan = &s; return nil })
	fs.Func("throttle", "", func(s string) error {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil {
			return fmt.Errorf("throttle must be a number of tasks, got %q", s)
		}
		u.Throttle = &n
		return nil
	})
	id, client, ok := c.jobArg(fs, args, c.Help())
	if !ok {
		return 1
	}
	if u.MaxLifespan == nil && u.Throttle == nil {
		c.Ui.Error("Nothing to update: give -max-lifespan or -throttle")
		return 1
	}
	j, err := client.Jobs().Update(context.Background(), id, &u)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error updating job %d: %s", id, err))
		return 1
	}
	if c.json {
		return c.outputJSON(j)
	}
	c.Ui.Output(fmt.Sprintf("Job %d updated: %s", j.ID, statusText(j)))
	return 0
}
