package jobspec

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/godocker/god/internal/lazy"
)

// This file parses the scheduling fields of a spec: array, depends_on and
// max_lifespan. The parsers are strict (no surrounding spaces, no signs) so
// that what is stored is what the scheduler reads.

// Dependency types of depends_on entries, as in Slurm and Go-Docker.
const (
	DepAfterAny   = "afterany"   // after the job ends, however it ends
	DepAfterOK    = "afterok"    // after the job ends with exit code 0
	DepAfterNotOK = "afternotok" // after the job fails or is killed
	DepAfter      = "after"      // once the job has started
)

const arrayExamples = `use "N" for tasks 1 to N, "start:end" or "start:end:step", e.g. "10", "1:100" or "1:100:2"`

// ParseArray parses an array spec: "N" means 1:N, "start:end" has a step of
// 1, and "start:end:step" takes every step-th index from start. last is the
// end as written: the last task is the greatest first+k*step ≤ last, so
// "1:8:3" runs tasks 1, 4 and 7 (see ArrayTasks). Numbers are whole, with
// 0 ≤ start ≤ end, step ≥ 1 and N ≥ 1, and the array has at most
// MaxArrayTasks tasks.
func ParseArray(s string) (first, last, step int, err error) {
	fail := func(format string, args ...any) (int, int, int, error) {
		return 0, 0, 0, fmt.Errorf(format+"; "+arrayExamples, args...)
	}
	switch {
	case s == "":
		return fail("the array is empty")
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return fail("remove the spaces from array %q", s)
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return fail("array %q has %d parts separated by \":\", at most 3", s, len(parts))
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := wholeNumber(p)
		if err != nil {
			return fail("array %q: %v", s, err)
		}
		nums[i] = n
	}
	switch len(nums) {
	case 1:
		if nums[0] < 1 {
			return fail("array %q has no tasks: N must be at least 1", s)
		}
		first, last, step = 1, nums[0], 1
	case 2:
		first, last, step = nums[0], nums[1], 1
	default:
		first, last, step = nums[0], nums[1], nums[2]
		if step < 1 {
			return fail("array %q has a step of 0: the step must be at least 1", s)
		}
	}
	if first > last {
		swapped := fmt.Sprintf("%d:%d", last, first)
		if len(nums) == 3 {
			swapped += fmt.Sprintf(":%d", step)
		}
		return fail("array %q ends before it starts: write the start first, %q", s, swapped)
	}
	if n := arrayLen(first, last, step); n > MaxArrayTasks {
		return 0, 0, 0, fmt.Errorf("array %q has %d tasks, more than the %d allowed; split the job into several arrays or use a larger step", s, n, MaxArrayTasks)
	}
	return first, last, step, nil
}

// wholeNumber parses a non-negative decimal integer written with digits only.
func wholeNumber(p string) (int, error) {
	switch {
	case p == "":
		return 0, errors.New(`a number is missing around ":"`)
	case p[0] == '-' && len(p) > 1 && isDigits(p[1:]):
		return 0, fmt.Errorf("%s is negative: task numbers start at 0", p)
	case !isDigits(p):
		return 0, fmt.Errorf("%q is not a whole number", p)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("%s is too large", p)
	}
	return n, nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// arrayLen is the number of tasks of a range ParseArray accepts; it cannot
// overflow since 0 ≤ first ≤ last.
func arrayLen(first, last, step int) uint64 {
	return uint64(last-first)/uint64(step) + 1
}

// ArrayTasks returns the task indices of an array parsed by ParseArray:
// first, first+step, ... up to last and never past it. It returns nil for a
// range that ParseArray rejects (first < 0, last < first, step < 1 or more
// than MaxArrayTasks tasks).
func ArrayTasks(first, last, step int) []int {
	if first < 0 || last < first || step < 1 || arrayLen(first, last, step) > MaxArrayTasks {
		return nil
	}
	n := int(arrayLen(first, last, step))
	tasks := make([]int, n)
	for k := range n {
		tasks[k] = first + k*step
	}
	return tasks
}

const depExamples = `use a job id, e.g. "12", or a type and a job id: "afterok:12" (after it ends with exit code 0), "afternotok:12" (after it fails or is killed), "afterany:12" (after it ends) or "after:12" (once it starts)`

func isDepKind(k string) bool {
	switch k {
	case DepAfterAny, DepAfterOK, DepAfterNotOK, DepAfter:
		return true
	}
	return false
}

// ParseDependency parses a depends_on entry: "ID" (the same as
// "afterany:ID"), "afterok:ID", "afternotok:ID", "afterany:ID" or
// "after:ID". Types are lowercase and the id is a positive integer.
func ParseDependency(s string) (kind string, id int64, err error) {
	fail := func(format string, args ...any) (string, int64, error) {
		return "", 0, fmt.Errorf(format+"; "+depExamples, args...)
	}
	switch {
	case s == "":
		return fail("the dependency is empty")
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return fail("remove the spaces from dependency %q", s)
	case isDepKind(strings.ToLower(s)):
		return fail("dependency %q has no job id", s)
	}
	kind, num := DepAfterAny, s
	if k, rest, ok := strings.Cut(s, ":"); ok {
		kind, num = k, rest
		switch {
		case isDepKind(k):
		case isDepKind(strings.ToLower(k)):
			return fail("dependency types are lowercase: write %q", strings.ToLower(k)+":"+rest)
		default:
			return fail("unknown dependency type %q in %q", k, s)
		}
		if strings.Contains(rest, ":") {
			return fail("dependency %q has more than one \":\": write one job per entry, e.g. [\"afterok:12\", \"afterok:13\"]", s)
		}
	}
	switch {
	case num == "":
		return fail("dependency %q has no job id", s)
	case num[0] == '-' && isDigits(num[1:]):
		return fail("job id %s in dependency %q is negative: job ids start at 1", num, s)
	case !isDigits(num):
		return fail("job id %q in dependency %q is not a number", num, s)
	}
	id, err = strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil:
		return fail("job id %s in dependency %q is too large", num, s)
	case id == 0:
		return fail("job id 0 in dependency %q does not exist: job ids start at 1", s)
	}
	return kind, id, nil
}

const lifespanExamples = `use a duration such as "90m", "12h", "1h30m", "7d" or "1d12h", or a number of days such as "7"`

// Go's duration units plus d for days; longer units come first so that the
// leftmost-first alternation reads "1ms" as milliseconds.
const lifespanToken = `([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d)`

var (
	lifespanRe      = lazy.Regexp(`^(?:` + lifespanToken + `)+$`)
	lifespanTokenRe = lazy.Regexp(lifespanToken)
)

// ParseLifespan parses a maximum lifespan: a Go duration ("90m", "12h",
// "1h30m") where d also means 24 hours ("7d", "1d12h"), or a whole number of
// days ("7"), as Go-Docker took it. It must be greater than 0 and at most
// MaxLifespan (365 days).
func ParseLifespan(s string) (time.Duration, error) {
	fail := func(format string, args ...any) (time.Duration, error) {
		return 0, fmt.Errorf(format+"; "+lifespanExamples, args...)
	}
	tooLong := func() (time.Duration, error) {
		return 0, fmt.Errorf(`lifespan %q is longer than 365 days; ask for at most "365d"`, s)
	}
	switch {
	case s == "":
		return fail("the lifespan is empty")
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return fail("remove the spaces from lifespan %q", s)
	case strings.HasPrefix(s, "-"):
		return fail("lifespan %q is negative: it must be longer than 0", s)
	}
	var d time.Duration
	switch {
	case isDigits(s):
		days, err := strconv.Atoi(s)
		if err != nil || days > int(MaxLifespan/(24*time.Hour)) {
			return tooLong()
		}
		d = time.Duration(days) * 24 * time.Hour
	case !lifespanRe().MatchString(s):
		if lifespanRe().MatchString(strings.ToLower(s)) {
			return fail("units are lowercase: write %q", strings.ToLower(s))
		}
		return fail("invalid lifespan %q", s)
	default:
		for _, m := range lifespanTokenRe().FindAllStringSubmatch(s, -1) {
			var t time.Duration
			var err error
			if m[2] == "d" {
				t, err = time.ParseDuration(m[1] + "h")
				if t > math.MaxInt64/24 {
					return tooLong()
				}
				t *= 24
			} else {
				t, err = time.ParseDuration(m[0])
			}
			// The grammar is Go's, so the only error left is overflow.
			if err != nil || d > math.MaxInt64-t {
				return tooLong()
			}
			d += t
		}
	}
	switch {
	case d <= 0:
		return fail("lifespan %q is zero: it must be longer than 0", s)
	case d > MaxLifespan:
		return tooLong()
	}
	return d, nil
}
