package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/godocker/god/api"
	"github.com/godocker/god/jobspec"
)

// maxCount bounds -count: the copies are built in memory before sending.
const maxCount = 1_000_000

// JobRunCommand submits a job spec.
type JobRunCommand struct {
	Meta
	parsable bool // print ids only
}

func (c *JobRunCommand) Synopsis() string { return "Submit a job" }

func (c *JobRunCommand) Help() string {
	return strings.TrimSpace(`
Usage: god job run [options] <path>...

  Submit the job spec at path (HCL, or JSON when the name ends in .json; "-"
  reads HCL from standard input). The spec is checked before it is sent:
  errors name the file and line and show the offending snippet. The job id
  is printed once the agent has stored the job durably.

  Several paths, a directory (its *.hcl and *.json files, in name order)
  or -count submit many jobs in one request: all of them or, if the agent
  refuses any, none; errors name the file and field. One line per job is
  printed, in order, once every job is stored durably.

Run Options:

  -count=<n>
    Submit n copies of each spec (default 1).

  -gpu=<n>
    Ask for n GPUs (a whole number, 0 for none), in place of the spec's
    resources { gpu = ... }.

  -parsable
    Print only the job id (one per line for several jobs), for scripts and
    workflow managers. With -wait, nothing more is printed; the exit code
    says how the job ended.

  -wait
    Wait for the job to end, print its final status, and exit with the job's
    exit code (137 if it was killed, 1 if it never ran).

  -json
    Print the agent's answer as JSON.

` + generalOptionsUsage)
}

func (c *JobRunCommand) Run(args []string) int {
	fs := c.FlagSet("job run", true)
	wait := fs.Bool("wait", false, "")
	count := fs.Int("count", 1, "")
	fs.BoolVar(&c.parsable, "parsable", false, "")
	gpus := -1
	fs.Func("gpu", "", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > jobspec.MaxGPU {
			return fmt.Errorf("the number of GPUs must be a whole number from 0 to %d, got %q", jobspec.MaxGPU, s)
		}
		gpus = n
		return nil
	})
	if !c.parseFlags(fs, args, c.Help()) {
		return 1
	}
	if fs.NArg() == 0 {
		c.Ui.Error("This command takes at least one argument: the path of a job spec, or of a directory of specs (try `god job init`)")
		return 1
	}
	if *count < 1 || *count > maxCount {
		c.Ui.Error(fmt.Sprintf("-count must be from 1 to %d, got %d", maxCount, *count))
		return 1
	}
	paths, ok := c.specPaths(fs.Args())
	if !ok {
		return 1
	}
	specs, ok := c.parseAll(paths)
	if !ok {
		return 1
	}
	if gpus >= 0 {
		for _, spec := range specs {
			if spec.Resources == nil {
				spec.Resources = &api.Resources{}
			}
			spec.Resources.GPU = gpus
		}
	}
	if len(specs)*(*count) > 1 {
		if *wait {
			c.Ui.Error("-wait follows one job: submit a single spec without -count to use it")
			return 1
		}
		return c.runBatch(paths, specs, *count)
	}
	spec := specs[0]
	client, err := c.Client()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	ctx := context.Background()
	resp, err := client.Jobs().Submit(ctx, spec)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error submitting job: %s", err))
		return 1
	}
	if c.parsable {
		c.Ui.Output(strconv.FormatInt(resp.ID, 10))
	}
	if !*wait {
		switch {
		case c.json:
			return c.outputJSON(resp)
		case !c.parsable:
			c.Ui.Output(fmt.Sprintf("%s. Job id is %d", resp.Msg, resp.ID))
		}
		return 0
	}
	if !c.json && !c.parsable {
		c.Ui.Output(fmt.Sprintf("%s. Job id is %d; waiting for it to end", resp.Msg, resp.ID))
	}
	j, err := waitOver(ctx, client, resp.ID, nil)
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error waiting for job %d: %s", resp.ID, err))
		return 1
	}
	switch {
	case c.json:
		c.outputJSON(j)
	case !c.parsable:
		c.Ui.Output(fmt.Sprintf("Job %d is %s", j.ID, statusText(j)))
	}
	return exitCodeOf(j)
}

// parseAll parses every spec, printing the diagnostics of all that fail:
// nothing is sent unless every one is valid.
func (c *JobRunCommand) parseAll(paths []string) ([]*api.JobSpec, bool) {
	p := hclparse.NewParser()
	specs := make([]*api.JobSpec, len(paths))
	ok := true
	for i, path := range paths {
		if specs[i] = c.parse(p, path); specs[i] == nil {
			ok = false
		}
	}
	return specs, ok
}

// parse reads and checks a job spec, printing diagnostics with snippets; it
// returns nil after an error.
func (c *JobRunCommand) parse(p *hclparse.Parser, path string) *api.JobSpec {
	var src []byte
	var err error
	name := path
	if path == "-" {
		name = "<stdin>"
		src, err = io.ReadAll(os.Stdin)
	} else {
		src, err = os.ReadFile(path)
	}
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error reading job spec: %s", err))
		return nil
	}
	spec, diags := jobspec.ParseWithParser(p, name, src)
	if diags.HasErrors() {
		var b strings.Builder
		w := hcl.NewDiagnosticTextWriter(&b, p.Files(), 100, false)
		_ = w.WriteDiagnostics(diags)
		c.Ui.Error(strings.TrimRight(b.String(), "\n"))
		return nil
	}
	return spec
}

// waitOver follows a job with blocking queries until it is over. onChange,
// if set, sees every new version.
func waitOver(ctx context.Context, client *api.Client, id int64, onChange func(*api.Job)) (*api.Job, error) {
	j, err := client.Jobs().Info(ctx, id)
	for err == nil {
		if onChange != nil {
			onChange(j)
		}
		if j.Status.Primary == api.StateOver || j.Status.Primary == api.StateArchived {
			return j, nil
		}
		j, err = client.Jobs().Wait(ctx, id, j.Version, time.Minute)
	}
	return nil, err
}

// exitCodeOf is the exit code `god job run -wait` returns for a job.
func exitCodeOf(j *api.Job) int {
	if j.Status.ExitCode != nil {
		if c := *j.Status.ExitCode; c >= 0 && c < 256 {
			return c
		}
	}
	return 1
}
