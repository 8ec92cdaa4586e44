package command

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/godocker/god/api"
)

// QueueCommand shows the pending jobs in the scheduler's order.
type QueueCommand struct {
	Meta
}

func (c *QueueCommand) Synopsis() string { return "Show the queue of pending jobs" }

func (c *QueueCommand) Help() string {
	return strings.TrimSpace(`
Usage: god queue [options]

  Show your pending jobs (every user's for root) in the order the scheduler
  will try them, each with its position among all pending jobs and the
  first thing that blocks it. "god job why ID" explains one job in full.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *QueueCommand) Run(args []string) int {
	fs := c.FlagSet("queue", true)
	client, ok := c.noArgs(fs, args, c.Help())
	if !ok {
		return 1
	}
	q, err := client.Jobs().Queue(context.Background())
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading the queue: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(q)
	}
	if len(q) == 0 {
		c.Ui.Output("No pending jobs")
		return 0
	}
	rows := []string{"Position|ID|Name|User|Resources|Est. Start|Blocked By"}
	for _, e := range q {
		blocked := "-"
		if e.Blocked != nil {
			blocked = e.Blocked.Kind + ": " + e.Blocked.Message
		}
		est := "-"
		if e.EstimatedStart != nil {
			est = estimate(*e.EstimatedStart)
		}
		rows = append(rows, fmt.Sprintf("%d|%d|%s|%s|cpu %g, %s|%s|%s", e.Position, e.Job.ID, jobName(e.Job), e.Job.User.Name, e.Job.CPU, api.FormatSize(e.Job.Memory), est, blocked))
	}
	c.Ui.Output(formatList(rows))
	return 0
}

// estimate shows an estimated start: "now", or the time and how far off.
func estimate(t time.Time) string {
	d := time.Until(t).Round(time.Minute)
	if d < time.Minute {
		return "now"
	}
	return fmt.Sprintf("%s (in %s)", t.Local().Format("2006-01-02 15:04"), strings.TrimSuffix(d.String(), "0s"))
}
