package command

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/godocker/god/api"
)

// JobStatusCommand lists jobs or shows one.
type JobStatusCommand struct {
	Meta
}

func (c *JobStatusCommand) Synopsis() string { return "List your jobs or show one" }

func (c *JobStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job status [options] [ID]

  Without an ID, list your jobs, newest first (every user's for root). With
  an ID, show that job in detail: status and reason, exit code, resources,
  dates, job directory and container.

Status Options:

  -state=<state>
    List only jobs in this state: pending, running, over or archived. May be
    repeated.

  -state <ID>
    Print one word for the job, for scripts and workflow managers: pending,
    running, success (over with exit code 0) or failed (over otherwise:
    non-zero exit, killed, lost, never ran). Exit code 0 when the word is
    printed, 1 when the job cannot be read.

  -limit=<n>
    List at most n jobs (default 100).

  -project=<name>
    List only jobs of this project. Where the site shares project jobs,
    members see every member's jobs of the project.
` + jsonOptionUsage + "\n\n" + generalOptionsUsage)
}

func (c *JobStatusCommand) Run(args []string) int {
	fs := c.FlagSet("job status", true)
	var states stringSlice
	fs.Var(&states, "state", "")
	limit := fs.Int("limit", 0, "")
	project := fs.String("project", "", "")
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	if fs.NArg() > 1 {
		c.Ui.Error("This command takes at most one argument: a job id")
		return 1
	}
	client, err := c.Client()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	ctx := context.Background()
	if fs.NArg() == 0 && len(states) == 1 {
		if id, err := parseJobID(states[0]); err == nil {
			j, err := client.Jobs().Info(ctx, id)
			if err != nil {
				c.Ui.Error(fmt.Sprintf("Error querying job %d: %s", id, err))
				return 1
			}
			c.Ui.Output(stateWord(j))
			return 0
		}
	}
	if fs.NArg() == 1 {
		if *project != "" {
			c.Ui.Error("-project selects among many jobs: give it without a job id")
			return 1
		}
		id, err := parseJobID(fs.Arg(0))
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error: %s", err))
			return 1
		}
		j, err := client.Jobs().Info(ctx, id)
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error querying job %d: %s", id, err))
			return 1
		}
		if c.json {
			return c.outputJSON(j)
		}
		c.Ui.Output(formatJob(j))
		return 0
	}
	jobs, err := client.Jobs().List(ctx, &api.JobListOptions{States: states, Limit: *limit, Project: *project})
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error listing jobs: %s", err))
		return 1
	}
	if c.json {
		return c.outputJSON(jobs)
	}
	if len(jobs) == 0 {
		c.Ui.Output("No jobs")
		return 0
	}
	rows := []string{"ID|Name|User|Status|Exit|Submitted|Duration"}
	for _, j := range jobs {
		exit := "-"
		if j.Status.ExitCode != nil {
			exit = fmt.Sprint(*j.Status.ExitCode)
		}
		st := j.Status.Primary
		if j.Status.Secondary != "" {
			st += " (" + j.Status.Secondary + ")"
		}
		rows = append(rows, fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s", j.ID, jobName(j), j.User.Name, st, exit, formatTime(&j.Dates.Submitted), formatDuration(j)))
	}
	c.Ui.Output(formatList(rows))
	return 0
}

// stateWord is a job's state in one of four words, as workflow managers'
// status scripts want it.
func stateWord(j *api.Job) string {
	switch j.Status.Primary {
	case api.StatePending:
		return "pending"
	case api.StateRunning:
		return "running"
	}
	if j.Status.ExitCode != nil && *j.Status.ExitCode == 0 && j.Status.Secondary == "" {
		return "success"
	}
	return "failed"
}

// formatJob is the detailed view of one job.
func formatJob(j *api.Job) string {
	exit := "-"
	if j.Status.ExitCode != nil {
		exit = fmt.Sprint(*j.Status.ExitCode)
	}
	rows := []string{
		fmt.Sprintf("ID|%d", j.ID),
		fmt.Sprintf("Name|%s", j.Spec.Name),
		fmt.Sprintf("User|%s (uid %d, gid %d)", j.User.Name, j.User.UID, j.User.GID),
		fmt.Sprintf("Status|%s", j.Status.Primary),
		fmt.Sprintf("Secondary|%s", orDash(j.Status.Secondary)),
		fmt.Sprintf("Reason|%s", orDash(j.Status.Reason)),
		fmt.Sprintf("Exit Code|%s", exit),
		fmt.Sprintf("Image|%s", j.Spec.Image),
		"Resources|" + resourcesText(j),
		fmt.Sprintf("Root|%t", j.Spec.Root),
		fmt.Sprintf("Volumes|%s", orDash(strings.Join(j.Spec.Volumes, ", "))),
		fmt.Sprintf("Tags|%s", orDash(strings.Join(j.Spec.Tags, ", "))),
		fmt.Sprintf("Submitted|%s", formatTime(&j.Dates.Submitted)),
		fmt.Sprintf("Started|%s", formatTime(j.Dates.Started)),
		fmt.Sprintf("Ended|%s", formatTime(j.Dates.Ended)),
		fmt.Sprintf("Duration|%s", formatDuration(j)),
		fmt.Sprintf("Job Directory|%s", orDash(j.JobDir)),
	}
	if j.Container != nil {
		rows = append(rows, fmt.Sprintf("Container|%s %s (%s)", j.Container.Executor, j.Container.Name, shortID(j.Container.ID)))
		if j.Container.Node != "" {
			rows = append(rows, "Node|"+j.Container.Node)
		}
		// The engine's own references, e.g. the Nomad job, allocation and UI.
		for _, k := range []string{"nomad_job", "nomad_alloc", "nomad_ui"} {
			if v := j.Container.Links[k]; v != "" {
				rows = append(rows, linkTitle(k)+"|"+v)
			}
		}
	}
	if j.Spec.Project != "" {
		rows = append(rows, "Project|"+j.Spec.Project)
	}
	if j.ParentID != 0 && j.TaskID != nil {
		rows = append(rows, fmt.Sprintf("Array Task|%d of array %d", *j.TaskID, j.ParentID))
	}
	if len(j.DependsOn) > 0 {
		rows = append(rows, "Depends On|"+strings.Join(j.DependsOn, ", "))
	}
	if j.Held {
		rows = append(rows, "Held By|"+j.HeldBy)
	}
	if j.MaxLifespan != "" {
		rows = append(rows, "Max Lifespan|"+j.MaxLifespan)
	}
	if len(j.Spec.Env) > 0 {
		keys := make([]string, 0, len(j.Spec.Env))
		for k := range j.Spec.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		rows = append(rows, "Env|"+strings.Join(keys, ", "))
	}
	out := formatKV(rows)
	if a := j.Array; a != nil {
		out += fmt.Sprintf("\n\nArray %d:%d:%d, %d tasks", a.First, a.Last, a.Step, a.Tasks)
		if a.Throttle > 0 {
			out += fmt.Sprintf(", at most %d at once", a.Throttle)
		}
		if a.Tasks > 0 {
			out += fmt.Sprintf(" (job ids %d to %d)", a.FirstTaskID, a.LastTaskID)
		}
		out += "\n" + formatList(countRows("State|Tasks", a.States))
		if len(a.ExitCodes) > 0 {
			out += "\n\n" + formatList(countRows("Exit Code|Tasks", a.ExitCodes))
		}
	}
	return out
}

// countRows renders a count per key, keys sorted, under a header.
func countRows(header string, counts map[string]int) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := []string{header}
	for _, k := range keys {
		rows = append(rows, fmt.Sprintf("%s|%d", k, counts[k]))
	}
	return rows
}

// jobName shows an array task as name[task].
func jobName(j *api.Job) string {
	if j.ParentID != 0 && j.TaskID != nil {
		return fmt.Sprintf("%s[%d]", j.Spec.Name, *j.TaskID)
	}
	return j.Spec.Name
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// linkTitle names an engine link in god job status.
func linkTitle(key string) string {
	switch key {
	case "nomad_job":
		return "Nomad Job"
	case "nomad_alloc":
		return "Nomad Allocation"
	case "nomad_ui":
		return "Nomad UI"
	}
	return key
}

// resourcesText is what a job asked for: cores, memory and any GPUs.
func resourcesText(j *api.Job) string {
	s := fmt.Sprintf("cpu %g, memory %s", j.CPU, api.FormatSize(j.Memory))
	if j.GPU > 0 {
		s += fmt.Sprintf(", gpu %d", j.GPU)
	}
	return s
}
