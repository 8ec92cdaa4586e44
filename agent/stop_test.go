package agent

import (
	"context"
	"strings"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

// A stop is SIGTERM to every process of the job, then SIGKILL at the kill
// timeout: a job that catches SIGTERM and exits in time keeps its own exit
// code (and its children got the signal too); one that ignores it is
// killed at the timeout with 137; a job without a trap dies of SIGTERM and
// is reported as Go-Docker did, 137.
func TestStop_Graceful(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	cases := []struct {
		name, command, timeout string
		code                   int
		output                 string
		forced                 bool
	}{
		{"traps SIGTERM", `trap 'echo cleaned up; exit 4' TERM; (trap 'echo child got it; exit 0' TERM; sleep 300 & wait) & echo ready; wait`, "30s", 4, "child got it", false},
		{"ignores SIGTERM", `trap '' TERM; echo ready; sleep 300`, "1s", api.ExitKilled, "", true},
		{"no trap", `echo ready; sleep 300`, "30s", api.ExitKilled, "", false},
	}
	ids := make([]int64, len(cases))
	for i, tc := range cases {
		ids[i] = ta.submit(alice, api.JobSpec{Name: "stop", Command: tc.command, KillTimeout: tc.timeout, Resources: &api.Resources{CPU: 0.1, Memory: "32MiB"}})
	}
	for i, tc := range cases {
		ta.waitRunning(alice, ids[i])
		ta.waitOutput(ids[i], "ready")
		j, err := ta.Stop(ctx, alice, ids[i])
		must.NoError(t, err, must.Sprint(tc.name))
		must.Eq(t, api.SecondaryKillRequested, j.Status.Secondary, must.Sprint(tc.name))
	}
	for i, tc := range cases {
		j := ta.waitOver(alice, ids[i])
		must.Eq(t, api.SecondaryKilled, j.Status.Secondary, must.Sprint(tc.name))
		must.Eq(t, tc.code, exitCode(j), must.Sprint(tc.name))
		must.StrContains(t, ta.readJobFile(ids[i], "god.log"), tc.output, must.Sprint(tc.name))
		stored, err := ta.store.Get(ctx, ids[i])
		must.NoError(t, err)
		must.Eq(t, tc.forced, stored.KillForced, must.Sprintf("%s: SIGKILL sent only past the timeout", tc.name))
		if tc.code != api.ExitKilled {
			must.True(t, strings.Contains(ta.readJobFile(ids[i], "god.log"), "cleaned up"), must.Sprint(tc.name))
		}
	}
}

// A kill timeout beyond the site's max_kill_timeout is refused at submit,
// with the field named.
func TestStop_KillTimeoutCapped(t *testing.T) {
	ta := startAgent(t, nil)
	_, err := ta.Submit(context.Background(), testUser(t, aliceUID), &api.JobSpec{Name: "x", Command: "true", KillTimeout: "10m"})
	must.ErrorContains(t, err, "job refused")
	must.Eq(t, "kill_timeout", err.(*Error).Fields[0].Field)
	must.StrContains(t, err.(*Error).Fields[0].Message, "max_kill_timeout 5m0s")
}
