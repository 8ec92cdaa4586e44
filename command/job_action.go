package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// JobActionCommand is one of the single-verb commands that act on a job
// and show its new status: hold, release, suspend, resume.
type JobActionCommand struct {
	Meta
	verb     string
	synopsis string
	help     string
	act      func(*api.Jobs, context.Context, int64) (*api.Job, error)
}

func jobActions(m Meta) map[string]*JobActionCommand {
	return map[string]*JobActionCommand{
		"hold": {Meta: m, verb: "hold", synopsis: "Keep a pending job from starting", act: (*api.Jobs).Hold, help: `
  Keep a pending job from starting until "god job release". On an array,
  every pending task is held. The job shows "pending (held)" and who held it.`},
		"release": {Meta: m, verb: "release", synopsis: "Let a held job start", act: (*api.Jobs).Release, help: `
  Let a held job start again. On an array, every held task is released.`},
		"suspend": {Meta: m, verb: "suspend", synopsis: "Freeze a running job", act: (*api.Jobs).Suspend, help: `
  Freeze every process of a running job (the engine's pause) until
  "god job resume". The job shows "running (suspended)"; its time still
  counts toward its max lifespan, and it can be stopped while suspended.
  On an array, every running task is suspended. Executors without the pause
  capability refuse.`},
		"resume": {Meta: m, verb: "resume", synopsis: "Continue a suspended job", act: (*api.Jobs).Resume, help: `
  Continue a suspended job where it stopped. On an array, every suspended
  task resumes.`},
		"reschedule": {Meta: m, verb: "reschedule", synopsis: "Run a running job again", act: (*api.Jobs).Reschedule, help: `
  Kill a running job and put it back to pending with the same id, to run
  again from the start (its directory is kept; god.log and god.err are
  rewritten). It shows "pending (rescheduled)" until it starts again. For an
  array, reschedule its tasks.`},
	}
}

func (c *JobActionCommand) Synopsis() string { return c.synopsis }

func (c *JobActionCommand) Help() string {
	return strings.TrimSpace(fmt.Sprintf("Usage: god job %s [options] <ID>\n%s\n\nOptions:\n%s\n\n%s", c.verb, c.help, jsonOptionUsage, generalOptionsUsage))
}

func (c *JobActionCommand) Run(args []string) int {
	fs := c.FlagSet("job "+c.verb, true)
	id, client, ok := c.jobArg(fs, args, c.Help())
	if !ok {
		return 1
	}
	j, err := c.act(client.Jobs(), context.Background(), id)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: cannot %s job %d: %s", c.verb, id, err))
		return 1
	}
	if c.json {
		return c.outputJSON(j)
	}
	c.Ui.Output(fmt.Sprintf("Job %d is %s", j.ID, statusText(j)))
	return 0
}
