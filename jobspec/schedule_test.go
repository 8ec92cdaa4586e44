package jobspec

import (
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"
)

func TestParseArray(t *testing.T) {
	cases := []struct {
		in                string
		first, last, step int
		err               string // a substring of the error, empty for success
	}{
		{"5", 1, 5, 1, ""},
		{"1", 1, 1, 1, ""},
		{"1:8:3", 1, 8, 3, ""},
		{"0:0", 0, 0, 1, ""},
		{"0:9", 0, 9, 1, ""},
		{"3:3:7", 3, 3, 7, ""},
		{"007:010", 7, 10, 1, ""},
		{"100000", 1, 100000, 1, ""},
		{"0:99999", 0, 99999, 1, ""},
		{"1:200000:2", 1, 200000, 2, ""},
		{"0:9223372036854775807:9223372036854775807", 0, 9223372036854775807, 9223372036854775807, ""},
		{"", 0, 0, 0, `the array is empty; use "N" for tasks 1 to N, "start:end" or "start:end:step", e.g. "10", "1:100" or "1:100:2"`},
		{" 1:3", 0, 0, 0, `remove the spaces from array " 1:3"; use "N"`},
		{"1 : 3", 0, 0, 0, "remove the spaces"},
		{"1:3\n", 0, 0, 0, "remove the spaces"},
		{"0", 0, 0, 0, `array "0" has no tasks: N must be at least 1; use`},
		{"3:1", 0, 0, 0, `array "3:1" ends before it starts: write the start first, "1:3"; use`},
		{"9:1:2", 0, 0, 0, `write the start first, "1:9:2"`},
		{"1:10:0", 0, 0, 0, `array "1:10:0" has a step of 0: the step must be at least 1; use`},
		{"1.5:3", 0, 0, 0, `array "1.5:3": "1.5" is not a whole number; use "N" for tasks 1 to N`},
		{"-1:3", 0, 0, 0, `array "-1:3": -1 is negative: task numbers start at 0`},
		{"1:-3", 0, 0, 0, "-3 is negative"},
		{"+1:3", 0, 0, 0, `"+1" is not a whole number`},
		{"1:", 0, 0, 0, `array "1:": a number is missing around ":"`},
		{":3", 0, 0, 0, "a number is missing"},
		{"1::2", 0, 0, 0, "a number is missing"},
		{"1:2:3:4", 0, 0, 0, `array "1:2:3:4" has 4 parts separated by ":", at most 3`},
		{"a:b", 0, 0, 0, `"a" is not a whole number`},
		{"1-10", 0, 0, 0, `"1-10" is not a whole number`},
		{"0x10", 0, 0, 0, "not a whole number"},
		{"１", 0, 0, 0, "not a whole number"}, // fullwidth digit
		{"100001", 0, 0, 0, `array "100001" has 100001 tasks, more than the 100000 allowed; split the job into several arrays or use a larger step`},
		{"0:100000", 0, 0, 0, "has 100001 tasks"},
		{"0:9223372036854775807", 0, 0, 0, "has 9223372036854775808 tasks"},
		{"1:99999999999999999999", 0, 0, 0, "99999999999999999999 is too large"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			first, last, step, err := ParseArray(tc.in)
			if tc.err != "" {
				must.ErrorContains(t, err, tc.err)
				must.Eq(t, [3]int{}, [3]int{first, last, step})
				return
			}
			must.NoError(t, err)
			must.Eq(t, [3]int{tc.first, tc.last, tc.step}, [3]int{first, last, step})
		})
	}
}

func TestArrayTasks(t *testing.T) {
	cases := []struct {
		name              string
		first, last, step int
		want              []int
	}{
		{"1:8:3 stops before the end", 1, 8, 3, []int{1, 4, 7}},
		{"1:7:3 includes the end", 1, 7, 3, []int{1, 4, 7}},
		{"N=5", 1, 5, 1, []int{1, 2, 3, 4, 5}},
		{"0:0", 0, 0, 1, []int{0}},
		{"step past the end", 3, 5, 10, []int{3}},
		{"huge step", 0, 1 << 62, 1 << 62, []int{0, 1 << 62}},
		{"end before start", 3, 1, 1, nil},
		{"step 0", 1, 3, 0, nil},
		{"negative step", 1, 3, -1, nil},
		{"negative start", -1, 3, 1, nil},
		{"too many", 1, MaxArrayTasks + 1, 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			must.Eq(t, tc.want, ArrayTasks(tc.first, tc.last, tc.step))
		})
	}
	must.Len(t, MaxArrayTasks, ArrayTasks(1, MaxArrayTasks, 1))
}

func TestParseArray_roundTrip(t *testing.T) {
	// Every accepted spec gives between 1 and MaxArrayTasks tasks, all
	// within [first, last].
	for _, s := range []string{"1", "7", "0:0", "1:8:3", "2:100:7", "5:5:5", "0:299997:3"} {
		first, last, step, err := ParseArray(s)
		must.NoError(t, err)
		tasks := ArrayTasks(first, last, step)
		must.SliceNotEmpty(t, tasks)
		must.LessEq(t, MaxArrayTasks, len(tasks))
		must.Eq(t, first, tasks[0])
		must.LessEq(t, last, tasks[len(tasks)-1])
		must.Greater(t, last, tasks[len(tasks)-1]+step)
	}
}

func TestParseDependency(t *testing.T) {
	cases := []struct {
		in   string
		kind string
		id   int64
		err  string // a substring of the error, empty for success
	}{
		{"12", DepAfterAny, 12, ""},
		{"afterany:12", DepAfterAny, 12, ""},
		{"afterok:12", DepAfterOK, 12, ""},
		{"afternotok:1", DepAfterNotOK, 1, ""},
		{"after:9223372036854775807", DepAfter, 9223372036854775807, ""},
		{"012", DepAfterAny, 12, ""},
		{"", "", 0, `the dependency is empty; use a job id, e.g. "12", or a type and a job id: "afterok:12" (after it ends with exit code 0)`},
		{" 12", "", 0, `remove the spaces from dependency " 12"; use a job id`},
		{"afterok: 12", "", 0, "remove the spaces"},
		{"AfterOK:12", "", 0, `dependency types are lowercase: write "afterok:12"; use`},
		{"afterwards:12", "", 0, `unknown dependency type "afterwards" in "afterwards:12"; use a job id`},
		{"singleton", "", 0, `job id "singleton" in dependency "singleton" is not a number`},
		{"afterok", "", 0, `dependency "afterok" has no job id; use`},
		{"afterok:", "", 0, `dependency "afterok:" has no job id`},
		{":12", "", 0, `unknown dependency type "" in ":12"`},
		{"afterok:12:13", "", 0, `dependency "afterok:12:13" has more than one ":": write one job per entry, e.g. ["afterok:12", "afterok:13"]`},
		{"afterok:afterok:12", "", 0, `has more than one ":"`},
		{"0", "", 0, `job id 0 in dependency "0" does not exist: job ids start at 1`},
		{"afterok:0", "", 0, "does not exist"},
		{"-3", "", 0, `job id -3 in dependency "-3" is negative: job ids start at 1`},
		{"afterok:-3", "", 0, "is negative"},
		{"+3", "", 0, `job id "+3" in dependency "+3" is not a number`},
		{"1.5", "", 0, "is not a number"},
		{"1e3", "", 0, "is not a number"},
		{"9223372036854775808", "", 0, `job id 9223372036854775808 in dependency "9223372036854775808" is too large`},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			kind, id, err := ParseDependency(tc.in)
			if tc.err != "" {
				must.ErrorContains(t, err, tc.err)
				must.Eq(t, "", kind)
				must.Eq(t, 0, id)
				return
			}
			must.NoError(t, err)
			must.Eq(t, tc.kind, kind)
			must.Eq(t, tc.id, id)
		})
	}
}

func TestParseLifespan(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		in   string
		want time.Duration
		err  string // a substring of the error, empty for success
	}{
		{"90m", 90 * time.Minute, ""},
		{"12h", 12 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"7d", 7 * day, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"12h1d", 36 * time.Hour, ""},
		{"1d1d", 2 * day, ""},
		{"1.5d", 36 * time.Hour, ""},
		{".5d", 12 * time.Hour, ""},
		{"1d30m10s500ms", day + 30*time.Minute + 10*time.Second + 500*time.Millisecond, ""},
		{"1ms", time.Millisecond, ""},
		{"1µs", time.Microsecond, ""},
		{"7", 7 * day, ""},
		{"365", 365 * day, ""},
		{"365d", MaxLifespan, ""},
		{"8760h", MaxLifespan, ""},
		{"364d24h", MaxLifespan, ""},
		{"", 0, `the lifespan is empty; use a duration such as "90m", "12h", "1h30m", "7d" or "1d12h", or a number of days such as "7"`},
		{" 7d", 0, `remove the spaces from lifespan " 7d"; use`},
		{"1d 12h", 0, "remove the spaces"},
		{"0", 0, `lifespan "0" is zero: it must be longer than 0; use`},
		{"0d", 0, "is zero"},
		{"0h0m", 0, "is zero"},
		{"0.1ns", 0, "is zero"},
		{"-1h", 0, `lifespan "-1h" is negative: it must be longer than 0`},
		{"-7", 0, "is negative"},
		{"366", 0, `lifespan "366" is longer than 365 days; ask for at most "365d"`},
		{"366d", 0, "longer than 365 days"},
		{"365d1ns", 0, "longer than 365 days"},
		{"8761h", 0, "longer than 365 days"},
		{"99999999999999999999", 0, "longer than 365 days"},
		{"99999999999d", 0, "longer than 365 days"},
		{"9999999999999999999h", 0, "longer than 365 days"},
		{"106751d106751d", 0, "longer than 365 days"},
		{"2562047h2562047h", 0, "longer than 365 days"},
		{"7D", 0, `units are lowercase: write "7d"; use`},
		{"12H", 0, `write "12h"`},
		{"1.5", 0, `invalid lifespan "1.5"; use a duration`},
		{"7days", 0, `invalid lifespan "7days"`},
		{"1w", 0, "invalid lifespan"},
		{"d", 0, "invalid lifespan"},
		{"+7d", 0, "invalid lifespan"},
		{"1h-30m", 0, "invalid lifespan"},
		{"infinity", 0, "invalid lifespan"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseLifespan(tc.in)
			if tc.err != "" {
				must.ErrorContains(t, err, tc.err)
				must.Eq(t, 0, got)
				return
			}
			must.NoError(t, err)
			must.Eq(t, tc.want, got)
		})
	}
}

// Every message of the new parsers says how to fix the value.
func TestScheduleErrors_nameTheFix(t *testing.T) {
	for _, s := range []string{"", " ", "0", "3:1", "1:1:0", "x", "1:2:3:4", "200000"} {
		_, _, _, err := ParseArray(s)
		must.Error(t, err)
		must.True(t, strings.Contains(err.Error(), `"1:100"`) || strings.Contains(err.Error(), "split the job"), must.Sprint(err))
	}
	for _, s := range []string{"", " ", "x", "AFTEROK:1", "after:x", "0"} {
		_, _, err := ParseDependency(s)
		must.ErrorContains(t, err, `"afterok:12"`)
	}
	for _, s := range []string{"", " ", "x", "0", "-1h", "1H"} {
		_, err := ParseLifespan(s)
		must.ErrorContains(t, err, `"7d"`)
	}
}
