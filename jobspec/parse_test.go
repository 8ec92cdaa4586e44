package jobspec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

const fullHCL = `job "align-reads" {
  description = "BWA alignment"
  image       = "debian:12"
  command     = "echo hello; id"
  resources {
    cpu    = 0.5
    memory = "2GiB"
    gpu    = 2
  }
  volumes = ["home", "data"]
  env     = { SAMPLE = "s1", THREADS = "4" }
  root    = false
  tags    = ["rnaseq", "team/bio"]

  array        = "1:100:2"
  throttle     = 10
  depends_on   = ["12", "afterok:13"]
  hold         = true
  max_lifespan = "1d12h"
}
`

const fullJSON = `{
  "job": {
    "align-reads": {
      "description": "BWA alignment",
      "image": "debian:12",
      "command": "echo hello; id",
      "resources": {"cpu": 0.5, "memory": "2GiB", "gpu": 2},
      "volumes": ["home", "data"],
      "env": {"SAMPLE": "s1", "THREADS": "4"},
      "root": false,
      "tags": ["rnaseq", "team/bio"],
      "array": "1:100:2",
      "throttle": 10,
      "depends_on": ["12", "afterok:13"],
      "hold": true,
      "max_lifespan": "1d12h"
    }
  }
}
`

func fullSpec() *api.JobSpec {
	return &api.JobSpec{
		Name:        "align-reads",
		Description: "BWA alignment",
		Image:       "debian:12",
		Command:     "echo hello; id",
		Resources:   &api.Resources{CPU: 0.5, Memory: "2GiB", GPU: 2},
		Volumes:     []string{"home", "data"},
		Env:         map[string]string{"SAMPLE": "s1", "THREADS": "4"},
		Tags:        []string{"rnaseq", "team/bio"},
		Array:       "1:100:2",
		Throttle:    10,
		DependsOn:   []string{"12", "afterok:13"},
		Hold:        true,
		MaxLifespan: "1d12h",
	}
}

var validCases = []struct {
	name     string
	filename string
	src      string
	want     *api.JobSpec
}{
	{"full hcl", "job.hcl", fullHCL, fullSpec()},
	{"full json", "job.json", fullJSON, fullSpec()},
	{"json extension is case-insensitive", "JOB.JSON", fullJSON, fullSpec()},
	{
		"minimal script", "job.hcl",
		"job \"hello\" {\n  script = \"#!/usr/bin/env python3\\nprint(1)\\n\"\n}\n",
		&api.JobSpec{Name: "hello", Script: "#!/usr/bin/env python3\nprint(1)\n"},
	},
	{
		"heredoc and root", "job.hcl",
		"job \"h\" {\n  root = true\n  script = <<-EOT\n    #!/bin/sh\n    id\n  EOT\n}\n",
		&api.JobSpec{Name: "h", Root: true, Script: "#!/bin/sh\nid\n"},
	},
	{
		"json template", "job.json",
		`{"job": {"t": {"command": "echo ${1 + 1}"}}}`,
		&api.JobSpec{Name: "t", Command: "echo 2"},
	},
	{
		"scheduling fields written as numbers", "job.hcl",
		"job \"a\" {\n  command = \"echo $GODOCKER_TASK_ID\"\n  array = 10\n  depends_on = [12, 13]\n  max_lifespan = 7\n}\n",
		&api.JobSpec{Name: "a", Command: "echo $GODOCKER_TASK_ID", Array: "10", DependsOn: []string{"12", "13"}, MaxLifespan: "7"},
	},
	{
		"held job", "job.hcl",
		"job \"h\" {\n  command = \"true\"\n  hold = true\n  throttle = 0\n}\n",
		&api.JobSpec{Name: "h", Command: "true", Hold: true},
	},
}

func TestParse_valid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			spec, diags := Parse(tc.filename, []byte(tc.src))
			must.SliceEmpty(t, diags, must.Sprint(diags.Error()))
			must.Eq(t, tc.want, spec)
		})
	}
}

// errorCases each produce exactly one error diagnostic.
var errorCases = []struct {
	name     string
	filename string
	src      string
	summary  string
	detail   string // a substring of the detail
	at       string // file:line,column of the subject's start
}{
	{
		"unknown attribute with suggestion", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  resources {\n    cpus = 2\n  }\n}\n",
		"Unsupported argument", `Did you mean "cpu"? Valid arguments in a resources block: cpu, gpu, memory.`, "job.hcl:4,5",
	},
	{
		"unknown attribute lists the valid ones", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  priority = 2\n}\n",
		"Unsupported argument", "Valid arguments in a job block: array, command, depends_on, description, env, hold, image, kill_timeout, max_lifespan, project, retries, root, script, tags, throttle, volumes; valid blocks: resources.", "job.hcl:3,3",
	},
	{
		"unknown block", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  resource {\n    cpu = 2\n  }\n}\n",
		"Unsupported block type", `Did you mean "resources"?`, "job.hcl:3,3",
	},
	{
		"unknown json property", "job.json",
		`{"job": {"x": {"command": "true", "cpus": 1}}}`,
		"Extraneous JSON object property", `No argument or block type is named "cpus". Valid arguments in a job block`, "job.json:1,35",
	},
	{
		"missing job block", "job.hcl",
		"# nothing here\n",
		"Missing job block", "job \"hello\" {\n  command = \"echo hello\"\n}", "job.hcl:1,1",
	},
	{
		"empty json", "job.json",
		"{}",
		"Missing job block", "exactly one job block", "job.json:1,2",
	},
	{
		"two job blocks", "job.hcl",
		"job \"a\" {\n  command = \"true\"\n}\n\njob \"b\" {\n  command = \"true\"\n}\n",
		"Duplicate job block", `"a" is already defined at job.hcl:1,1;`, "job.hcl:5,1",
	},
	{
		"job without a name", "job.hcl",
		"job {\n  command = \"true\"\n}\n",
		"Missing name for job", `job "align-reads" { ... }`, "job.hcl:1,5",
	},
	{
		"invalid name", "job.hcl",
		"job \"-x\" {\n  command = \"true\"\n}\n",
		"Invalid name", "starting with a letter or digit", "job.hcl:1,5",
	},
	{
		"both command and script", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  script  = \"#!/bin/sh\\ntrue\\n\"\n}\n",
		"Invalid script", "Set either command or script, not both", "job.hcl:3,13",
	},
	{
		"neither command nor script", "job.hcl",
		"job \"x\" {\n  image = \"debian:12\"\n}\n",
		"Missing command", `A job needs a command or a script: set command = "echo hello"`, "job.hcl:1,1",
	},
	{
		"bad memory", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  resources {\n    memory = \"2 lots\"\n  }\n}\n",
		"Invalid resources.memory", `"512MiB", "2GiB"`, "job.hcl:4,14",
	},
	{
		"memory too small", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  resources {\n    memory = \"4MiB\"\n  }\n}\n",
		"Invalid resources.memory", "at least 6MiB, Docker's minimum", "job.hcl:4,14",
	},
	{
		"negative gpu", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  resources {\n    gpu = -1\n  }\n}\n",
		"Invalid resources.gpu", "whole number from 0 to 64", "job.hcl:4,11",
	},
	{
		"bad memory in json", "job.json",
		"{\"job\": {\"x\": {\n  \"command\": \"true\",\n  \"resources\": {\"memory\": \"-1G\"}\n}}}",
		"Invalid resources.memory", "is negative", "job.json:3,27",
	},
	{
		"duplicate resources block", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  resources {}\n  resources {}\n}\n",
		"Duplicate resources block", "", "job.hcl:4,3",
	},
	{
		"reserved env var", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  env = { A = \"1\", GODOCKER_JID = \"1\" }\n}\n",
		"Invalid env.GODOCKER_JID", "reserved", "job.hcl:3,20",
	},
	{
		"bad volume name", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  volumes = [\"home\", \"My Data\"]\n}\n",
		"Invalid volumes[1]", "lowercase", "job.hcl:3,22",
	},
	{
		"duplicate volume", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  volumes = [\"home\", \"home\"]\n}\n",
		"Invalid volumes[1]", "already listed at volumes[0]; remove the duplicate", "job.hcl:3,22",
	},
	{
		"bad image", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  image = \"Debian:12\"\n}\n",
		"Invalid image", "repository names are lowercase", "job.hcl:3,11",
	},
	{
		"wrong type", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  root = \"maybe\"\n}\n",
		"Unsuitable value type", "a bool is required", "job.hcl:3,11",
	},
	{
		"variables are not allowed", "job.hcl",
		"job \"x\" {\n  command = home\n}\n",
		"Variables not allowed", "", "job.hcl:2,13",
	},
	{
		"shell variable in braces", "job.hcl",
		"job \"x\" {\n  command = \"echo ${HOME}\"\n}\n",
		"Variables not allowed", `write $${HOME} or $HOME: ${...} is HCL interpolation. To use the submitter's environment, call env("HOME").`, "job.hcl:2,21",
	},
	{
		"duplicate env key", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  env = {\n    A = \"1\"\n    A = \"2\"\n  }\n}\n",
		"Duplicate env key", `"A" is already set on line 4; remove one of them.`, "job.hcl:5,5",
	},
	{
		"unknown function", "job.hcl",
		"job \"x\" {\n  command = fil(\"run.sh\")\n}\n",
		"Call to unknown function", `Did you mean "file"? The functions available are file(path) and env(name).`, "job.hcl:2,13",
	},
	{
		"top-level attribute", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n}\nimage = \"debian\"\n",
		"Unsupported argument", "The top level of a job spec holds only a job block", "job.hcl:4,1",
	},
	{
		"bad array", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  array = \"3:1\"\n}\n",
		"Invalid array", `Array "3:1" ends before it starts: write the start first, "1:3"; use "N" for tasks 1 to N`, "job.hcl:3,11",
	},
	{
		"array with spaces", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  array = \" 1:3\"\n}\n",
		"Invalid array", `Remove the spaces from array " 1:3"`, "job.hcl:3,11",
	},
	{
		"throttle without array", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  throttle = 4\n}\n",
		"Invalid throttle", "Throttle only applies to arrays: set array too or remove throttle.", "job.hcl:3,14",
	},
	{
		"negative throttle", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  array = \"10\"\n  throttle = -1\n}\n",
		"Invalid throttle", "set it from 1 to 100000, or 0 for no cap", "job.hcl:4,14",
	},
	{
		"throttle not a number", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  array = \"10\"\n  throttle = \"ten\"\n}\n",
		"Unsuitable value type", "a number is required", "job.hcl:4,15",
	},
	{
		"bad dependency", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  depends_on = [\"12\", \"afterok:x\"]\n}\n",
		"Invalid depends_on[1]", `Job id "x" in dependency "afterok:x" is not a number; use a job id, e.g. "12"`, "job.hcl:3,23",
	},
	{
		"duplicate dependency", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  depends_on = [\"12\", \"13\", \"afterok:12\"]\n}\n",
		"Invalid depends_on[2]", "Job 12 is already listed at depends_on[0]; a job can be waited for once: remove one of them.", "job.hcl:3,29",
	},
	{
		"bad dependency in json", "job.json",
		"{\"job\": {\"x\": {\n  \"command\": \"true\",\n  \"depends_on\": [\"12\",\n    \"afterok:0\"]\n}}}",
		"Invalid depends_on[1]", "Job id 0 in dependency \"afterok:0\" does not exist", "job.json:4,5",
	},
	{
		"dependency is not a list", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  depends_on = \"afterok:x\"\n}\n",
		"Unsuitable value type", "list of string required", "job.hcl:3,17",
	},
	{
		"lifespan too long", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  max_lifespan = \"400d\"\n}\n",
		"Invalid max_lifespan", `Lifespan "400d" is longer than 365 days; ask for at most "365d".`, "job.hcl:3,18",
	},
	{
		"lifespan without unit", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n  max_lifespan = \"1.5\"\n}\n",
		"Invalid max_lifespan", `Invalid lifespan "1.5"; use a duration such as "90m"`, "job.hcl:3,18",
	},
	{
		"syntax error", "job.hcl",
		"job \"x\" {\n  command = \"true\"\n",
		"Unclosed configuration block", "", "job.hcl:1,9",
	},
}

func TestParse_errors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			spec, diags := Parse(tc.filename, []byte(tc.src))
			must.Nil(t, spec)
			checkDiagnostics(t, diags)
			errs := diags.Errs()
			must.Len(t, 1, errs, must.Sprint(diags.Error()))
			d := errs[0].(*hcl.Diagnostic)
			must.Eq(t, tc.summary, d.Summary)
			must.StrContains(t, d.Detail, tc.detail)
			must.Eq(t, tc.at, at(d))
		})
	}
}

// checkDiagnostics holds for every diagnostic Parse returns.
func checkDiagnostics(t *testing.T, diags hcl.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		must.NotNil(t, d.Subject, must.Sprintf("no subject: %s", d))
		must.NotEq(t, "", d.Detail, must.Sprintf("no detail: %s", d))
	}
}

func at(d *hcl.Diagnostic) string {
	return fmt.Sprintf("%s:%d,%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
}

func TestParse_severalErrorsInOrder(t *testing.T) {
	src := "job \"x\" {\n  command = \"true\"\n  volumes = [\"A\"]\n  tags = [\"\"]\n  env = { \"1X\" = \"y\" }\n}\n"
	_, diags := Parse("job.hcl", []byte(src))
	var got []string
	for _, d := range diags {
		got = append(got, at(d)+" "+d.Summary)
	}
	must.Eq(t, []string{
		"job.hcl:3,14 Invalid volumes[0]",
		"job.hcl:4,11 Invalid tags[0]",
		"job.hcl:5,11 Invalid env.1X",
	}, got)
}

// TestParse_scheduling parses a job with every scheduling field, and places
// the error about one bad depends_on element on that element.
func TestParse_scheduling(t *testing.T) {
	const tmpl = `job "chunks" {
  script       = "#!/bin/sh\necho task $GODOCKER_TASK_ID\n"
  array        = "0:99:3"
  throttle     = 5
  depends_on   = [
    "41",
    "afterok:42",
    %q,
    "after:44",
  ]
  hold         = true
  max_lifespan = "2d6h"
}
`
	spec, diags := Parse("job.hcl", fmt.Appendf(nil, tmpl, "afternotok:43"))
	must.SliceEmpty(t, diags, must.Sprint(diags.Error()))
	must.Eq(t, &api.JobSpec{
		Name:        "chunks",
		Script:      "#!/bin/sh\necho task $GODOCKER_TASK_ID\n",
		Array:       "0:99:3",
		Throttle:    5,
		DependsOn:   []string{"41", "afterok:42", "afternotok:43", "after:44"},
		Hold:        true,
		MaxLifespan: "2d6h",
	}, spec)

	cases := []struct {
		dep     string
		summary string
		detail  string
	}{
		{"afterok:4x", "Invalid depends_on[2]", `Job id "4x" in dependency "afterok:4x" is not a number; use a job id, e.g. "12", or a type and a job id: "afterok:12"`},
		{"AfterNotOK:43", "Invalid depends_on[2]", `Dependency types are lowercase: write "afternotok:43"`},
		{"before:43", "Invalid depends_on[2]", `Unknown dependency type "before" in "before:43"`},
		{"afterok:41", "Invalid depends_on[2]", "Job 41 is already listed at depends_on[0]; a job can be waited for once: remove one of them."},
		{" 43", "Invalid depends_on[2]", `Remove the spaces from dependency " 43"`},
	}
	for _, tc := range cases {
		t.Run(tc.dep, func(t *testing.T) {
			spec, diags := Parse("job.hcl", fmt.Appendf(nil, tmpl, tc.dep))
			must.Nil(t, spec)
			checkDiagnostics(t, diags)
			must.Len(t, 1, diags, must.Sprint(diags.Error()))
			must.Eq(t, tc.summary, diags[0].Summary)
			must.StrContains(t, diags[0].Detail, tc.detail)
			// The element on line 8, not the list on line 5.
			must.Eq(t, "job.hcl:8,5", at(diags[0]))
			must.Eq(t, 8, diags[0].Subject.End.Line)
			must.Eq(t, 5+len(fmt.Sprintf("%q", tc.dep)), diags[0].Subject.End.Column)
		})
	}
}

func TestParse_fileFunction(t *testing.T) {
	dir := t.TempDir()
	specDir := filepath.Join(dir, "specs")
	must.NoError(t, os.Mkdir(specDir, 0o755))
	script := "#!/bin/bash\necho from file\n"
	must.NoError(t, os.WriteFile(filepath.Join(specDir, "run.sh"), []byte(script), 0o644))
	abs := filepath.Join(dir, "abs.sh")
	must.NoError(t, os.WriteFile(abs, []byte(script), 0o644))
	must.NoError(t, os.WriteFile(filepath.Join(specDir, "big.sh"), make([]byte, MaxFileSize+1), 0o644))
	must.NoError(t, os.WriteFile(filepath.Join(specDir, "binary"), []byte{0xff, 0xfe}, 0o644))

	cases := []struct {
		name   string
		arg    string
		detail string // empty for success
	}{
		{"relative to the spec", "run.sh", ""},
		{"absolute", abs, ""},
		{"missing", "nope.sh", filepath.Join(specDir, "nope.sh") + ": no such file or directory; relative paths are relative to the job spec's directory (" + specDir + ")"},
		{"too large", "big.sh", filepath.Join(specDir, "big.sh") + " is larger than 1 MiB"},
		{"directory", ".", "is not a regular file"},
		{"not text", "binary", "is not UTF-8 text"},
		{"empty path", "", "the path is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(specDir, "job.hcl")
			src := fmt.Sprintf("job \"f\" {\n  script = file(%q)\n}\n", tc.arg)
			must.NoError(t, os.WriteFile(path, []byte(src), 0o644))
			// ParseFile from the package directory: a path relative to the
			// working directory would not find run.sh.
			spec, diags := ParseFile(path)
			checkDiagnostics(t, diags)
			if tc.detail == "" {
				must.SliceEmpty(t, diags, must.Sprint(diags.Error()))
				must.Eq(t, script, spec.Script)
				return
			}
			must.Nil(t, spec)
			must.Len(t, 1, diags)
			must.Eq(t, "Invalid function argument", diags[0].Summary)
			must.StrContains(t, diags[0].Detail, tc.detail)
			must.StrHasPrefix(t, path+":2,", at(diags[0]))
		})
	}
}

func TestParse_envFunction(t *testing.T) {
	t.Setenv("GOD_JOBSPEC_TEST_SAMPLE", "s42")
	src := `job "e" {
  command = "echo $SAMPLE"
  env     = { SAMPLE = env("GOD_JOBSPEC_TEST_SAMPLE"), UNSET = env("GOD_JOBSPEC_TEST_UNSET") }
}`
	spec, diags := Parse("job.hcl", []byte(src))
	must.SliceEmpty(t, diags, must.Sprint(diags.Error()))
	must.Eq(t, map[string]string{"SAMPLE": "s42", "UNSET": ""}, spec.Env)
}

func TestParseFile_missing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.hcl")
	spec, diags := ParseFile(path)
	must.Nil(t, spec)
	must.Len(t, 1, diags)
	must.Eq(t, "Cannot read job spec", diags[0].Summary)
	must.Eq(t, path+":1,1", at(diags[0]))
	must.StrContains(t, diags[0].Detail, "no such file or directory")
}

func TestParseWithParser_snippets(t *testing.T) {
	p := hclparse.NewParser()
	src := "job \"x\" {\n  command = \"true\"\n  resources {\n    memory = \"lots\"\n  }\n}\n"
	_, diags := ParseWithParser(p, "job.hcl", []byte(src))
	var b strings.Builder
	must.NoError(t, hcl.NewDiagnosticTextWriter(&b, p.Files(), 0, false).WriteDiagnostics(diags))
	must.StrContains(t, b.String(), "Error: Invalid resources.memory")
	must.StrContains(t, b.String(), `on job.hcl line 4, in job "x":`)
	must.StrContains(t, b.String(), `4:     memory = "lots"`)
}
