package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
)

// JobArchiveCommand removes finished jobs' directories.
type JobArchiveCommand struct {
	Meta
}

func (c *JobArchiveCommand) Synopsis() string { return "Remove finished jobs' directories" }

func (c *JobArchiveCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job archive [options] <ID>
       god job archive [options] -older-than <duration>

  Archive finished jobs: remove their job directories (output, god.log...)
  and mark them archived; their records stay, so "god job status" still
  shows them. With -purge the records are deleted too. An array goes with
  its tasks. Only jobs that are over can be archived. The agent also
  archives jobs by itself once they are older than its archive_after.

Archive Options:

  -older-than=<duration>
    Archive all your jobs that ended at least this long ago ("30d", "12h")
    instead of one job. Root archives every user's.

  -tag=<tag>
    With -older-than, only jobs with this tag.

  -purge
    Delete the job records too (with -older-than, archived ones included).
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *JobArchiveCommand) Run(args []string) int {
	fs := c.FlagSet("job archive", true)
	olderThan := fs.String("older-than", "", "")
	tag := fs.String("tag", "", "")
	purge := fs.Bool("purge", false, "")
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	switch {
	case *olderThan == "" && fs.NArg() != 1:
		c.Ui.Error("Give one job id, or -older-than <duration> for many")
		return 1
	case *olderThan != "" && fs.NArg() != 0:
		c.Ui.Error("Give either a job id or -older-than, not both")
		return 1
	case *tag != "" && *olderThan == "":
		c.Ui.Error("-tag selects among many jobs: use it with -older-than")
		return 1
	}
	client, err := c.Client()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	var res *api.ArchiveResponse
	if *olderThan != "" {
		res, err = client.Jobs().ArchiveOlder(context.Background(), &api.ArchiveRequest{OlderThan: *olderThan, Tag: *tag, Purge: *purge})
	} else {
		var id int64
		if id, err = parseJobID(fs.Arg(0)); err == nil {
			res, err = client.Jobs().Archive(context.Background(), id, *purge)
		}
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error archiving: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(res)
	}
	c.Ui.Output(fmt.Sprintf("%d job(s) archived, %d purged", res.Archived, res.Purged))
	return 0
}
