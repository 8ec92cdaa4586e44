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
