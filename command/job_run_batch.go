package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/lazy"
)

// specPaths expands the arguments of `god job run`: a directory stands for
// its *.hcl and *.json files in name order (not its subdirectories).
func (c *JobRunCommand) specPaths(args []string) ([]string, bool) {
	var paths []string
	stdin := 0
	for _, arg := range args {
		if arg == "-" {
			if stdin++; stdin > 1 {
				c.Ui.Error(`Error: "-" (standard input) may be given once`)
				return nil, false
			}
			paths = append(paths, arg)
			continue
		}
		fi, err := os.Stat(arg)
		if err != nil || !fi.IsDir() {
			paths = append(paths, arg) // reading it reports any error
			continue
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			c.Ui.Error(fmt.Sprintf("Error reading directory of job specs: %s", err))
			return nil, false
		}
		n := len(paths)
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".hcl" || ext == ".json") {
				paths = append(paths, filepath.Join(arg, e.Name()))
			}
		}
		if len(paths) == n {
			c.Ui.Error(fmt.Sprintf("Error: directory %s has no job specs (*.hcl or *.json files)", arg))
			return nil, false
		}
		slices.Sort(paths[n:])
	}
	return paths, true
}

// runBatch submits count copies of each spec in as few requests as the
// agent's batch limit allows, each all or nothing, and prints one line per
// job in order.
func (c *JobRunCommand) runBatch(paths []string, specs []*api.JobSpec, count int) int {
	var items []api.BatchItem
	var sources []string
	for i, spec := range specs {
		for k := range count {
			items = append(items, api.BatchItem{Spec: *spec})
			src := displayPath(paths[i])
			if count > 1 {
				src += ", copy " + strconv.Itoa(k+1)
			}
			sources = append(sources, src)
		}
	}
	client, err := c.Client()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("Error: %s", err))
		return 1
	}
	var all []api.SubmitResponse
	for start := 0; start < len(items); start += api.MaxBatch {
		end := min(start+api.MaxBatch, len(items))
		resp, err := client.Jobs().SubmitBatch(context.Background(), items[start:end])
		if err != nil {
			c.Ui.Error(batchError(err, sources[start:end], start > 0))
			c.printSubmitted(all, sources, len(specs) > 1)
			return 1
		}
		all = append(all, resp.Jobs...)
	}
	if c.json {
		return c.outputJSON(&api.BatchSubmitResponse{Jobs: all})
	}
	c.printSubmitted(all, sources, len(specs) > 1)
	return 0
}

func (c *JobRunCommand) printSubmitted(jobs []api.SubmitResponse, sources []string, named bool) {
	for i, r := range jobs {
		if c.parsable {
			c.Ui.Output(strconv.FormatInt(r.ID, 10))
			continue
		}
		line := fmt.Sprintf("%s. Job id is %d", r.Msg, r.ID)
		if named {
			line += " (" + sources[i] + ")"
		}
		c.Ui.Output(line)
	}
}

func displayPath(p string) string {
	if p == "-" {
		return "<stdin>"
	}
	return p
}

var itemField = lazy.Regexp(`^jobs\[(\d+)\]\.?(.*)$`)

// batchError names the file of each refused item of a batch.
func batchError(err error, sources []string, partial bool) string {
	var b strings.Builder
	var ae *api.APIError
	if !errors.As(err, &ae) || len(ae.Fields) == 0 {
		fmt.Fprintf(&b, "Error submitting jobs: %s", err)
	} else {
		fmt.Fprintf(&b, "Error submitting jobs: %s", ae.Message)
		for _, f := range ae.Fields {
			field := f.Field
			if m := itemField().FindStringSubmatch(field); m != nil {
				if i, _ := strconv.Atoi(m[1]); i < len(sources) {
					field = sources[i]
					if m[2] != "" {
						field += ": " + m[2]
					}
				}
			}
			fmt.Fprintf(&b, "\n  * %s: %s", field, f.Message)
		}
	}
	if partial {
		b.WriteString("\nThe jobs listed below were submitted by earlier requests of this batch.")
	}
	return b.String()
}
