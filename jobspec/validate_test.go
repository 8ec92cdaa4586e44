package jobspec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

func TestValidate_valid(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*api.JobSpec)
	}{
		{"full", func(*api.JobSpec) {}},
		{"no image, script", func(s *api.JobSpec) { s.Image, s.Command, s.Script = "", "", "#!/bin/sh\n" }},
		{"name with dots", func(s *api.JobSpec) { s.Name = "9.run_a-b" }},
		{"longest name", func(s *api.JobSpec) { s.Name = strings.Repeat("a", MaxNameLen) }},
		{"registry with port", func(s *api.JobSpec) { s.Image = "localhost:5000/team/tool:1.2-rc1" }},
		{"digest", func(s *api.JobSpec) { s.Image = "ghcr.io/org/tool@sha256:" + strings.Repeat("ab", 32) }},
		{"ipv6 registry", func(s *api.JobSpec) { s.Image = "[::1]:5000/tool" }},
		{"no resources", func(s *api.JobSpec) { s.Resources = nil }},
		{"zero resources", func(s *api.JobSpec) { s.Resources = &api.Resources{} }},
		{"max cpu and memory", func(s *api.JobSpec) { s.Resources = &api.Resources{CPU: MaxCPU, Memory: "16TiB"} }},
		{"min memory", func(s *api.JobSpec) { s.Resources.Memory = "6m" }},
		{"32 tags", func(s *api.JobSpec) { s.Tags = make([]string, MaxTags); fill(s.Tags, "t") }},
		{"tag chars", func(s *api.JobSpec) { s.Tags = []string{"a-b_c.d:e/F9"} }},
		{"lowercase env prefix", func(s *api.JobSpec) { s.Env = map[string]string{"godocker_x": "1", "_A": ""} }},
		{"long description", func(s *api.JobSpec) { s.Description = strings.Repeat("é", MaxDescriptionLen) }},
		{"no scheduling fields", func(s *api.JobSpec) { s.Array, s.Throttle, s.DependsOn, s.Hold, s.MaxLifespan = "", 0, nil, false, "" }},
		{"array N", func(s *api.JobSpec) { s.Array = "5" }},
		{"array 0:0", func(s *api.JobSpec) { s.Array = "0:0" }},
		{"largest array", func(s *api.JobSpec) { s.Array = "0:99999" }},
		{"array without throttle", func(s *api.JobSpec) { s.Throttle = 0 }},
		{"throttle larger than the array", func(s *api.JobSpec) { s.Array, s.Throttle = "3", MaxArrayTasks }},
		{"throttle 0 without array", func(s *api.JobSpec) { s.Array, s.Throttle = "", 0 }},
		{"every dependency type", func(s *api.JobSpec) {
			s.DependsOn = []string{"1", "afterany:2", "afterok:3", "afternotok:4", "after:5"}
		}},
		{"64 dependencies", func(s *api.JobSpec) { s.DependsOn = make([]string, MaxDependencies); fill(s.DependsOn, "afterok:1") }}, // afterok:10 to afterok:163
		{"empty depends_on", func(s *api.JobSpec) { s.DependsOn = []string{} }},
		{"lifespan in days", func(s *api.JobSpec) { s.MaxLifespan = "7" }},
		{"longest lifespan", func(s *api.JobSpec) { s.MaxLifespan = "365d" }},
		{"short lifespan", func(s *api.JobSpec) { s.MaxLifespan = "30s" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := fullSpec()
			tc.modify(s)
			must.SliceEmpty(t, Validate(s))
		})
	}
}

func fill(s []string, prefix string) {
	for i := range s {
		s[i] = fmt.Sprint(prefix, i)
	}
}

func TestValidate_invalid(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*api.JobSpec)
		field  string
		msg    string // a substring of the message
	}{
		{"no name", func(s *api.JobSpec) { s.Name = "" }, "name", "a job needs a name"},
		{"name starts with a dash", func(s *api.JobSpec) { s.Name = "-a" }, "name", "starting with a letter or digit"},
		{"name with a space", func(s *api.JobSpec) { s.Name = "a b" }, "name", `letters, digits, "-", "_" or "."`},
		{"name too long", func(s *api.JobSpec) { s.Name = strings.Repeat("a", MaxNameLen+1) }, "name", "1 to 128"},
		{"description too long", func(s *api.JobSpec) { s.Description = strings.Repeat("a", MaxDescriptionLen+1) }, "description", "at most 1024"},
		{"both", func(s *api.JobSpec) { s.Script = "#!/bin/sh\n" }, "script", "set either command or script, not both"},
		{"neither", func(s *api.JobSpec) { s.Command = "" }, "command", "a job needs a command or a script"},
		{"command too large", func(s *api.JobSpec) { s.Command = strings.Repeat("x", MaxCommandSize+1) }, "command", "larger than 1 MiB"},
		{"script too large", func(s *api.JobSpec) { s.Command, s.Script = "", strings.Repeat("x", MaxCommandSize+1) }, "script", "larger than 1 MiB"},
		{"NUL in command", func(s *api.JobSpec) { s.Command = "echo \x00" }, "command", "NUL"},
		{"negative cpu", func(s *api.JobSpec) { s.Resources.CPU = -1 }, "resources.cpu", "greater than 0 and at most 1024"},
		{"too many cpus", func(s *api.JobSpec) { s.Resources.CPU = 1025 }, "resources.cpu", "at most 1024"},
		{"bad memory", func(s *api.JobSpec) { s.Resources.Memory = "two gigs" }, "resources.memory", `e.g. "512MiB"`},
		{"memory below docker's minimum", func(s *api.JobSpec) { s.Resources.Memory = "5MiB" }, "resources.memory", "at least 6MiB, Docker's minimum"},
		{"memory too large", func(s *api.JobSpec) { s.Resources.Memory = "17TiB" }, "resources.memory", "at most 16TiB"},
		{"negative gpu", func(s *api.JobSpec) { s.Resources.GPU = -1 }, "resources.gpu", "whole number from 0 to 64"},
		{"too many gpus", func(s *api.JobSpec) { s.Resources.GPU = 65 }, "resources.gpu", "from 0 to 64"},
		{"bad volume name", func(s *api.JobSpec) { s.Volumes = []string{"home", "Data"} }, "volumes[1]", `volume "Data" is not a valid name`},
		{"volume starting with a digit", func(s *api.JobSpec) { s.Volumes = []string{"1home"} }, "volumes[0]", "starting with a letter"},
		{"duplicate volume", func(s *api.JobSpec) { s.Volumes = []string{"home", "data", "home"} }, "volumes[2]", "already listed at volumes[0]; remove the duplicate"},
		{"bad env key", func(s *api.JobSpec) { s.Env = map[string]string{"1A": "x"} }, "env.1A", "not a valid variable name"},
		{"reserved env key", func(s *api.JobSpec) { s.Env = map[string]string{"GODOCKER_JID": "1"} }, "env.GODOCKER_JID", "GODOCKER_ are reserved"},
		{"reserved legacy env key", func(s *api.JobSpec) { s.Env = map[string]string{"GOGOCKER_X": "1"} }, "env.GOGOCKER_X", "GOGOCKER_ are reserved"},
		{"NUL in env value", func(s *api.JobSpec) { s.Env = map[string]string{"A": "\x00"} }, "env.A", "NUL"},
		{"too many env vars", func(s *api.JobSpec) {
			s.Env = map[string]string{}
			for i := range MaxEnv + 1 {
				s.Env[fmt.Sprint("V", i)] = ""
			}
		}, "env", "at most 256"},
		{"empty tag", func(s *api.JobSpec) { s.Tags = []string{""} }, "tags[0]", "1 to 64"},
		{"tag with a space", func(s *api.JobSpec) { s.Tags = []string{"ok", "a b"} }, "tags[1]", `tag "a b" is not valid`},
		{"too many tags", func(s *api.JobSpec) { s.Tags = make([]string, MaxTags+1); fill(s.Tags, "t") }, "tags", "at most 32"},
		{"image with a space", func(s *api.JobSpec) { s.Image = "debian :12" }, "image", "whitespace"},
		{"uppercase image", func(s *api.JobSpec) { s.Image = "Debian:12" }, "image", "lowercase"},
		{"image with a bad tag", func(s *api.JobSpec) { s.Image = "debian:-12" }, "image", `"debian:12"`},
		{"image too long", func(s *api.JobSpec) { s.Image = strings.Repeat("a", MaxImageLen+1) }, "image", "at most 255"},
		{"short digest", func(s *api.JobSpec) { s.Image = "debian@sha256:abc" }, "image", "name@sha256"},
		{"bad array", func(s *api.JobSpec) { s.Array = "1.5:3" }, "array", `array "1.5:3": "1.5" is not a whole number; use "N" for tasks 1 to N, "start:end" or "start:end:step", e.g. "10", "1:100" or "1:100:2"`},
		{"array ends before it starts", func(s *api.JobSpec) { s.Array = "3:1" }, "array", `write the start first, "1:3"`},
		{"array step 0", func(s *api.JobSpec) { s.Array = "1:3:0" }, "array", "the step must be at least 1"},
		{"array with spaces", func(s *api.JobSpec) { s.Array = " 1:3" }, "array", "remove the spaces"},
		{"array too large", func(s *api.JobSpec) { s.Array = "0:100000" }, "array", "has 100001 tasks, more than the 100000 allowed"},
		{"negative throttle", func(s *api.JobSpec) { s.Throttle = -1 }, "throttle", "set it from 1 to 100000, or 0 for no cap"},
		{"throttle too large", func(s *api.JobSpec) { s.Throttle = MaxArrayTasks + 1 }, "throttle", "set it from 1 to 100000"},
		{"throttle without array", func(s *api.JobSpec) { s.Array = "" }, "throttle", "throttle only applies to arrays: set array too or remove throttle"},
		{"bad dependency", func(s *api.JobSpec) { s.DependsOn = []string{"12", "afterok:"} }, "depends_on[1]", `dependency "afterok:" has no job id; use a job id, e.g. "12"`},
		{"unknown dependency type", func(s *api.JobSpec) { s.DependsOn = []string{"afterokay:12"} }, "depends_on[0]", `unknown dependency type "afterokay"`},
		{"uppercase dependency type", func(s *api.JobSpec) { s.DependsOn = []string{"AFTEROK:12"} }, "depends_on[0]", `write "afterok:12"`},
		{"dependency on job 0", func(s *api.JobSpec) { s.DependsOn = []string{"0"} }, "depends_on[0]", "job ids start at 1"},
		{"duplicate dependency", func(s *api.JobSpec) { s.DependsOn = []string{"12", "13", "012"} }, "depends_on[2]", "job 12 is already listed at depends_on[0]; a job can be waited for once: remove one of them"},
		{"duplicate dependency of another type", func(s *api.JobSpec) { s.DependsOn = []string{"afterok:12", "afternotok:12"} }, "depends_on[1]", "job 12 is already listed at depends_on[0]"},
		{"too many dependencies", func(s *api.JobSpec) {
			s.DependsOn = make([]string, MaxDependencies+1)
			for i := range s.DependsOn {
				s.DependsOn[i] = fmt.Sprint(i + 1)
			}
		}, "depends_on", "65 dependencies is too many; list at most 64"},
		{"bad lifespan", func(s *api.JobSpec) { s.MaxLifespan = "a week" }, "max_lifespan", `remove the spaces from lifespan "a week"; use a duration such as "90m", "12h", "1h30m", "7d" or "1d12h", or a number of days such as "7"`},
		{"zero lifespan", func(s *api.JobSpec) { s.MaxLifespan = "0" }, "max_lifespan", "it must be longer than 0"},
		{"lifespan too long", func(s *api.JobSpec) { s.MaxLifespan = "366" }, "max_lifespan", `longer than 365 days; ask for at most "365d"`},
		{"bad kill timeout", func(s *api.JobSpec) { s.KillTimeout = "soon" }, "kill_timeout", `invalid kill timeout "soon": use a duration such as "30s"`},
		{"negative kill timeout", func(s *api.JobSpec) { s.KillTimeout = "-1s" }, "kill_timeout", `is negative: use "0s" to kill at once`},
		{"kill timeout too long", func(s *api.JobSpec) { s.KillTimeout = "2h" }, "kill_timeout", "longer than 1h0m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := fullSpec()
			tc.modify(s)
			errs := Validate(s)
			must.Len(t, 1, errs, must.Sprint(errs))
			must.Eq(t, tc.field, errs[0].Field)
			must.StrContains(t, errs[0].Message, tc.msg)
		})
	}
}

func TestValidate_order(t *testing.T) {
	s := &api.JobSpec{
		Name:        "-",
		Resources:   &api.Resources{CPU: -1, Memory: "1k"},
		Volumes:     []string{"B", "a", "a"},
		Env:         map[string]string{"Z-": "", "GODOCKER_A": "", "1": ""},
		Tags:        []string{" "},
		Array:       "x",
		Throttle:    -1,
		DependsOn:   []string{"x", "1", "1"},
		MaxLifespan: "0",
	}
	want := []string{"name", "command", "resources.cpu", "resources.memory", "volumes[0]", "volumes[2]", "env.1", "env.GODOCKER_A", "env.Z-", "tags[0]", "array", "throttle", "depends_on[0]", "depends_on[2]", "max_lifespan"}
	for range 10 { // map iteration order must not show
		var got []string
		for _, fe := range Validate(s) {
			got = append(got, fe.Field)
		}
		must.Eq(t, want, got)
	}
}

func TestValidate_nil(t *testing.T) {
	must.Eq(t, []api.FieldError{
		{Field: "name", Message: `a job needs a name, e.g. "align-reads"`},
		{Field: "command", Message: `a job needs a command or a script: set command = "echo hello" for a one-liner, or script = file("run.sh") for a whole script`},
	}, Validate(nil))
}

func TestParseMemory(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  string // a substring of the error, empty for success
	}{
		{"2GiB", 2 << 30, ""},
		{"2GB", 2 << 30, ""},
		{"2G", 2 << 30, ""},
		{"2g", 2 << 30, ""},
		{"2 GiB", 2 << 30, ""},
		{" 512MiB ", 512 << 20, ""},
		{"1.5g", 3 << 29, ""},
		{"64k", 64 << 10, ""},
		{"16TiB", 16 << 40, ""},
		{"1024", 1024, ""},
		{"100b", 100, ""},
		{"", 0, `the memory size is empty; use a number and a binary unit, e.g. "512MiB", "2GiB", "2G" or "1.5g"`},
		{"  ", 0, "empty"},
		{"-1G", 0, `memory size "-1G" is negative; use`},
		{"lots", 0, `invalid memory size "lots"; use`},
		{"2XB", 0, `invalid unit "XB" in memory size "2XB"`},
		{"2GiBs", 0, `invalid unit "GiBs"`},
		{"1e3M", 0, "invalid memory size"},
		{"NaN b", 0, "invalid memory size"},
		{"Inf", 0, "invalid memory size"},
		{"0x10M", 0, "invalid memory size"},
		{"2  G", 0, "invalid memory size"},
		{"8192P", 0, "too large"},
		{"99999999999999999999", 0, "too large"},
		{strings.Repeat("9", 400) + "k", 0, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMemory(tc.in)
			if tc.err != "" {
				must.ErrorContains(t, err, tc.err)
				return
			}
			must.NoError(t, err)
			must.Eq(t, tc.want, got)
		})
	}
}

func TestValidate_retries(t *testing.T) {
	for _, n := range []int{-1, MaxRetries + 1} {
		fe := Validate(&api.JobSpec{Name: "x", Command: "true", Retries: n})
		must.SliceLen(t, 1, fe)
		must.Eq(t, "retries", fe[0].Field)
	}
	must.SliceEmpty(t, Validate(&api.JobSpec{Name: "x", Command: "true", Retries: 3}))
}
