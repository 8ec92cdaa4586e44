package command

import (
	"context"
	"fmt"
	"strings"
)

// JobWhyCommand explains why a job is still pending.
type JobWhyCommand struct {
	Meta
}

func (c *JobWhyCommand) Synopsis() string { return "Explain why a job is still pending" }

func (c *JobWhyCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job why [options] <ID>

  Explain what keeps a pending job from starting, most decisive first, with
  numbers and what would change it: held, dependencies not yet (or never)
  satisfied, a failed start being retried, its array's throttle, resources
  short (needed, free, total), and its place in the queue among all pending
  jobs and among yours.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *JobWhyCommand) Run(args []string) int {
	fs := c.FlagSet("job why", true)
	id, client, ok := c.jobArg(fs, args, c.Help())
	if !ok {
		return 1
	}
	ex, err := client.Jobs().Why(context.Background(), id)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error explaining job %d: %s", id, err))
		return 1
	}
	if c.json {
		return c.outputJSON(ex)
	}
	if ex.Position > 0 {
		c.Ui.Output(fmt.Sprintf("Job %d is pending: number %d of %d in the queue (number %d among yours).", id, ex.Position, ex.Pending, ex.PositionMine))
	}
	for i, r := range ex.Reasons {
		c.Ui.Output(fmt.Sprintf("%d. [%s] %s", i+1, r.Kind, r.Message))
		if r.Fix != "" {
			c.Ui.Output("   fix: " + r.Fix)
		}
	}
	if ex.EstimatedStart != nil {
		c.Ui.Output("Estimated start: " + estimate(*ex.EstimatedStart) + " (if jobs run as long as their owners' recent ones)")
	}
	return 0
}
