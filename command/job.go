package command

import (
	"strings"

	"github.com/hashicorp/cli"
)

// JobCommand groups the job subcommands.
type JobCommand struct {
	Meta
}

func (c *JobCommand) Synopsis() string { return "Submit, inspect and stop jobs" }

func (c *JobCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job <subcommand> [options] [args]

  Submit, inspect and stop jobs. A job runs one script in one container, as
  you, with the job directory mounted at /mnt/go-docker.

    god job init                 write an example task.hcl
    god job run task.hcl         submit it (-wait to wait for its end)
    god job status [ID]          list your jobs, or show one
    god job logs [-f] ID         print its output (god.log; -stderr: god.err)
    god job why ID               explain why it is still pending
    god job stop ID              kill it, pending or running
    god job hold|release ID      keep a pending job from starting, or let it
    god job suspend|resume ID    freeze a running job, or continue it
    god job update ID            change its max lifespan or an array's throttle
    god job reschedule ID        kill a running job and run it again, same id
    god job archive ID           remove a finished job's directory

  Run "god job <subcommand> -h" for the options of each.
`)
}

func (c *JobCommand) Run(args []string) int { return cli.RunResultHelp }
