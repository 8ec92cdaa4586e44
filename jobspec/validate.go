package jobspec

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	units "github.com/docker/go-units"

	"github.com/godocker/god/api"
	"github.com/godocker/god/internal/lazy"
)

// Limits of a job spec.
const (
	MaxNameLen        = 128
	MaxDescriptionLen = 1024
	MaxCommandSize    = 1 << 20 // also the limit on script
	MaxCPU            = 1024
	MaxGPU            = 64
	MinMemory         = 6 << 20 // Docker refuses less than 6 MiB on some engines
	MaxMemory         = 16 << 40
	MaxEnv            = 256
	MaxTags           = 32
	MaxTagLen         = 64
	MaxImageLen       = 255
	MaxArrayTasks     = 100000 // also the largest throttle
	MaxDependencies   = 64
	MaxLifespan       = 365 * 24 * time.Hour
)

// reservedEnvPrefixes are set by GoDocker in every container (GOGOCKER_ is a
// historical misspelling that Go-Docker also set), so a job may not override them.
var reservedEnvPrefixes = []string{"GODOCKER_", "GOGOCKER_"}

var (
	nameRe    = lazy.Regexp(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	volumeRe  = lazy.Regexp(`^[a-z][a-z0-9_-]{0,63}$`)
	envKeyRe  = lazy.Regexp(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tagRe     = lazy.Regexp(`^[A-Za-z0-9_.:/-]{1,64}$`)
	projectRe = lazy.Regexp(`^[a-z][a-z0-9_-]{0,63}$`)
	imageRe   = lazy.Regexp(imageRef())
)

// imageRef is the grammar of github.com/distribution/reference:
// [registry[:port]/]path[:tag][@digest], where path components are lowercase.
func imageRef() string {
	const (
		component = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
		hostPart  = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		host      = `(?:` + hostPart + `(?:\.` + hostPart + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
		tag       = `[\w][\w.-]{0,127}`
		digest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return `^(?:` + host + `/)?` + component + `(?:/` + component + `)*(?::` + tag + `)?(?:@` + digest + `)?$`
}

// Validate checks a spec beyond its types: the agent calls it on JSON
// submissions and Parse on decoded HCL. Errors come in the order of the
// fields of api.JobSpec, list elements by index and env keys sorted, so the
// output is stable. A nil spec is treated as an empty one.
func Validate(spec *api.JobSpec) []api.FieldError {
	if spec == nil {
		spec = &api.JobSpec{}
	}
	var errs []api.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, api.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	switch {
	case spec.Name == "":
		add("name", `a job needs a name, e.g. "align-reads"`)
	case len(spec.Name) > MaxNameLen || !nameRe().MatchString(spec.Name):
		add("name", `use 1 to %d letters, digits, "-", "_" or ".", starting with a letter or digit, e.g. "align-reads"`, MaxNameLen)
	}

	if n := utf8.RuneCountInString(spec.Description); n > MaxDescriptionLen {
		add("description", "the description has %d characters; shorten it to at most %d", n, MaxDescriptionLen)
	}

	if spec.Image != "" {
		switch {
		case strings.IndexFunc(spec.Image, unicode.IsSpace) >= 0:
			add("image", "remove the whitespace from the image name")
		case len(spec.Image) > MaxImageLen:
			add("image", "the image reference has %d characters; Docker allows at most %d", len(spec.Image), MaxImageLen)
		case !imageRe().MatchString(spec.Image):
			add("image", `use a Docker image reference such as "debian:12", "ghcr.io/org/tool:1.2" or "name@sha256:<digest>"; repository names are lowercase`)
		}
	}

	if spec.Command == "" && spec.Script == "" {
		add("command", `a job needs a command or a script: set command = "echo hello" for a one-liner, or script = file("run.sh") for a whole script`)
	}
	if len(spec.Command) > MaxCommandSize {
		add("command", "the command is larger than 1 MiB; put large inputs in a volume and read them from the job")
	}
	if strings.IndexByte(spec.Command, 0) >= 0 {
		add("command", "remove the NUL byte from the command: bash cannot run it")
	}
	if spec.Command != "" && spec.Script != "" {
		add("script", "set either command or script, not both: command is a one-liner run by bash, script a whole file with its own shebang")
	}
	if len(spec.Script) > MaxCommandSize {
		add("script", "the script is larger than 1 MiB; put large inputs in a volume and read them from the job")
	}

	if r := spec.Resources; r != nil {
		// Written as a negation so that NaN is rejected too.
		if r.CPU != 0 && !(r.CPU > 0 && r.CPU <= MaxCPU) {
			add("resources.cpu", "the number of cores must be greater than 0 and at most %d, e.g. 1 or 0.5", MaxCPU)
		}
		if r.Memory != "" {
			switch m, err := ParseMemory(r.Memory); {
			case err != nil:
				add("resources.memory", "%v", err)
			case m < MinMemory:
				add("resources.memory", `memory must be at least 6MiB, Docker's minimum for a container; ask for e.g. "512MiB"`)
			case m > MaxMemory:
				add("resources.memory", `memory must be at most 16TiB; ask for e.g. "64GiB"`)
			}
		}
		if r.GPU < 0 || r.GPU > MaxGPU {
			add("resources.gpu", "the number of GPUs must be a whole number from 0 to %d, e.g. 1", MaxGPU)
		}
	}

	seen := make(map[string]int, len(spec.Volumes))
	for i, v := range spec.Volumes {
		field := fmt.Sprintf("volumes[%d]", i)
		if !volumeRe().MatchString(v) {
			add(field, `volume %q is not a valid name: use 1 to 64 lowercase letters, digits, "-" or "_", starting with a letter, e.g. "home"`, v)
			continue
		}
		if j, dup := seen[v]; dup {
			add(field, "volume %q is already listed at volumes[%d]; remove the duplicate", v, j)
			continue
		}
		seen[v] = i
	}

	if len(spec.Env) > MaxEnv {
		add("env", "%d environment variables is too many; set at most %d", len(spec.Env), MaxEnv)
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		field := "env." + k
		switch {
		case !envKeyRe().MatchString(k):
			add(field, `%q is not a valid variable name: use letters, digits and "_", not starting with a digit, e.g. "SAMPLE"`, k)
		case reservedPrefix(k) != "":
			add(field, "variables starting with %s are reserved: GoDocker sets them; rename the variable", reservedPrefix(k))
		case reservedEnv[k]:
			add(field, "%s is reserved: GoDocker sets it to the job owner's (HOME is the home directory with the home volume, else /mnt/go-docker); rename the variable", k)
		}
		if strings.IndexByte(spec.Env[k], 0) >= 0 {
			add(field, "remove the NUL byte from the value: environment values cannot contain one")
		}
	}

	if len(spec.Tags) > MaxTags {
		add("tags", "%d tags is too many; set at most %d", len(spec.Tags), MaxTags)
	}
	for i, t := range spec.Tags {
		if !tagRe().MatchString(t) {
			add(fmt.Sprintf("tags[%d]", i), `tag %q is not valid: use 1 to %d letters, digits, "-", "_", ".", ":" or "/", e.g. "rnaseq"`, t, MaxTagLen)
		}
	}

	if spec.Project != "" && !projectRe().MatchString(spec.Project) {
		add("project", `project %q is not valid: project names use lower-case letters, digits, "-" and "_", starting with a letter (see god project list)`, spec.Project)
	}

	if spec.Array != "" {
		if _, _, _, err := ParseArray(spec.Array); err != nil {
			add("array", "%v", err)
		}
	}
	switch {
	case spec.Throttle < 0 || spec.Throttle > MaxArrayTasks:
		add("throttle", "throttle is how many tasks of the array may run at once: set it from 1 to %d, or 0 for no cap", MaxArrayTasks)
	case spec.Throttle != 0 && spec.Array == "":
		add("throttle", "throttle only applies to arrays: set array too or remove throttle")
	}

	if len(spec.DependsOn) > MaxDependencies {
		add("depends_on", "%d dependencies is too many; list at most %d", len(spec.DependsOn), MaxDependencies)
	}
	deps := make(map[int64]int, len(spec.DependsOn))
	for i, dep := range spec.DependsOn {
		field := fmt.Sprintf("depends_on[%d]", i)
		_, id, err := ParseDependency(dep)
		if err != nil {
			add(field, "%v", err)
			continue
		}
		if j, dup := deps[id]; dup {
			add(field, "job %d is already listed at depends_on[%d]; a job can be waited for once: remove one of them", id, j)
			continue
		}
		deps[id] = i
	}

	if spec.MaxLifespan != "" {
		if _, err := ParseLifespan(spec.MaxLifespan); err != nil {
			add("max_lifespan", "%v", err)
		}
	}
	if spec.Retries < 0 || spec.Retries > MaxRetries {
		add("retries", "retries must be between 0 and %d: how many times to rerun the job if the engine loses it (never after a non-zero exit)", MaxRetries)
	}
	if spec.KillTimeout != "" {
		if _, err := ParseKillTimeout(spec.KillTimeout); err != nil {
			add("kill_timeout", "%v", err)
		}
	}
	return errs
}

// MaxKillTimeout caps kill_timeout in a spec; the agent's max_kill_timeout
// may cap lower.
const MaxKillTimeout = time.Hour

// ParseKillTimeout parses how long a stopped job may take to end after
// SIGTERM: a Go duration from "0s" (SIGKILL at once) to MaxKillTimeout.
func ParseKillTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("invalid kill timeout %q: use a duration such as \"30s\" or \"2m\" (\"0s\" kills at once)", s)
	case d < 0:
		return 0, fmt.Errorf("kill timeout %q is negative: use \"0s\" to kill at once", s)
	case d > MaxKillTimeout:
		return 0, fmt.Errorf("kill timeout %q is longer than %s", s, MaxKillTimeout)
	}
	return d, nil
}

// MaxRetries caps retries in a spec; the agent's max_retries may cap lower.
const MaxRetries = 100

// reservedEnv are variables GoDocker sets so that the job sees its owner.
var reservedEnv = map[string]bool{"HOME": true, "USER": true, "LOGNAME": true}

func reservedPrefix(key string) string {
	for _, p := range reservedEnvPrefixes {
		if strings.HasPrefix(key, p) {
			return p
		}
	}
	return ""
}

const memoryExamples = `use a number and a binary unit, e.g. "512MiB", "2GiB", "2G" or "1.5g"`

var memoryRe = lazy.Regexp(`^([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]*)$`)

// ParseMemory parses a memory size with binary units, as Docker does:
// "2GiB", "2GB", "2G" and "2g" all mean 2 GiB, and a bare number is bytes.
func ParseMemory(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("the memory size is empty; %s", memoryExamples)
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("memory size %q is negative; %s", s, memoryExamples)
	}
	// units.RAMInBytes alone accepts "NaN b" and "1e300g" and overflows on
	// them, so only plain decimals reach it.
	m := memoryRe().FindStringSubmatch(t)
	if m == nil {
		return 0, fmt.Errorf("invalid memory size %q; %s", s, memoryExamples)
	}
	unit, err := units.RAMInBytes("1" + m[2])
	if err != nil {
		return 0, fmt.Errorf("invalid unit %q in memory size %q; %s", m[2], s, memoryExamples)
	}
	f, _ := strconv.ParseFloat(m[1], 64) // +Inf if out of range
	if f*float64(unit) >= math.MaxInt64 {
		return 0, fmt.Errorf("memory size %q is too large; %s", s, memoryExamples)
	}
	return units.RAMInBytes(t)
}
