package jobspec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, that every diagnostic has a
// subject and a detail, and that a spec accepted without errors is non-nil
// and valid.
func FuzzParse(f *testing.F) {
	for _, tc := range validCases {
		f.Add([]byte(tc.src), filepath.Ext(tc.filename) == ".json")
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.src), filepath.Ext(tc.filename) == ".json")
	}
	f.Add([]byte("job \"f\" {\n  script = file(\"run.sh\")\n  env = { A = env(\"HOME\") }\n}\n"), false)
	f.Add([]byte(`{"job": {"f": {"script": "${file(\"run.sh\")}"}}}`), true)
	// The scheduling fields, valid and not, in both syntaxes.
	f.Add([]byte("job \"a\" {\n  command = \"echo $GODOCKER_TASK_ID\"\n  array = \"1:8:3\"\n  throttle = 2\n  depends_on = [\"12\", \"afterok:13\", \"afternotok:14\", \"after:15\"]\n  hold = true\n  max_lifespan = \"1d12h\"\n}\n"), false)
	f.Add([]byte("job \"a\" {\n  command = \"true\"\n  array = 5\n  depends_on = [7]\n  max_lifespan = 7\n}\n"), false)
	f.Add([]byte("job \"a\" {\n  command = \"true\"\n  array = \"0:99999:0\"\n  throttle = -3\n  depends_on = [\"afterok:1\", \"AFTER:1\", \"x:\"]\n  max_lifespan = \"1.5d-1h\"\n}\n"), false)
	f.Add([]byte(`{"job": {"a": {"command": "true", "array": "0:0", "throttle": 1, "depends_on": ["afterany:9223372036854775807"], "hold": false, "max_lifespan": "365d"}}}`), true)
	f.Add([]byte(`{"job": {"a": {"command": "true", "throttle": 100001, "depends_on": ["1", "01"], "max_lifespan": "8761h"}}}`), true)

	// file() reads relative to the spec, so give the seeds something to read.
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, src []byte, json bool) {
		name := filepath.Join(dir, "job.hcl")
		if json {
			name = filepath.Join(dir, "job.json")
		}
		spec, diags := Parse(name, src)
		for _, d := range diags {
			if d.Subject == nil || d.Detail == "" {
				t.Fatalf("diagnostic without subject or detail: %#v", d)
			}
		}
		if diags.HasErrors() {
			if spec != nil {
				t.Fatalf("spec returned with errors: %s", diags.Error())
			}
			return
		}
		if spec == nil {
			t.Fatal("nil spec without errors")
		}
		if errs := Validate(spec); len(errs) > 0 {
			t.Fatalf("Parse accepted a spec that Validate rejects: %v", errs)
		}
	})
}
