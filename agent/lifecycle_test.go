package agent

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
)

// A pending job stopped ends at once as killed with 137; a running one is
// killed on the engine, ends killed with 137 and its container is removed.
func TestLifecycle_Stop(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.Docker.CPU = 1; c.Docker.Memory = "1GiB" })
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	running := ta.submit(alice, api.JobSpec{Name: "long", Command: "echo started; sleep 300", Resources: &api.Resources{CPU: 1}})
	// Capacity is one core: this one waits behind the first.
	pending := ta.submit(alice, api.JobSpec{Name: "waiting", Command: "echo never", Resources: &api.Resources{CPU: 1}})
	ta.waitRunning(alice, running)
	j, err := ta.Job(ctx, alice, pending, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StatePending, j.Status.Primary)

	j, err = ta.Stop(ctx, alice, pending)
	must.NoError(t, err)
	must.Eq(t, api.StateOver, j.Status.Primary)
	must.Eq(t, api.SecondaryKilled, j.Status.Secondary)
	must.Eq(t, api.ExitKilled, exitCode(j))

	ta.waitOutput(running, "started")
	_, err = ta.Stop(ctx, alice, running)
	must.NoError(t, err)
	j = ta.waitOver(alice, running)
	must.Eq(t, api.SecondaryKilled, j.Status.Secondary)
	must.Eq(t, api.ExitKilled, exitCode(j))
	must.NotNil(t, j.Dates.Ended)
	ta.waitGone(running)

	// Stopping a finished job changes nothing.
	again, err := ta.Stop(ctx, alice, running)
	must.NoError(t, err)
	must.Eq(t, j.Version, again.Version)
}

// Jobs wait for capacity and start in submission order as room frees up;
// each container is started exactly once.
func TestLifecycle_CapacityFIFO(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.Docker.CPU = 1; c.Docker.Memory = "1GiB" })
	alice := testUser(t, aliceUID)
	var ids []int64
	for i := 0; i < 4; i++ {
		ids = append(ids, ta.submit(alice, api.JobSpec{Name: "q", Command: "echo run >> runs; sleep 0.3", Resources: &api.Resources{CPU: 1}}))
	}
	var prevEnd, prevStart *api.Job
	for _, id := range ids {
		j := ta.waitOver(alice, id)
		must.Eq(t, 0, exitCode(j))
		must.Eq(t, "run\n", ta.readJobFile(id, "runs"), must.Sprint("started exactly once"))
		if prevEnd != nil {
			must.False(t, j.Dates.Started.Before(*prevEnd.Dates.Ended), must.Sprint("one core: jobs never overlap"))
			must.True(t, j.Dates.Started.After(*prevStart.Dates.Started), must.Sprint("submission order"))
		}
		prevEnd, prevStart = j, j
	}
}

// What can never run is refused at submit, naming the field and the fix,
// and nothing is stored.
func TestLifecycle_AdmissionRefusals(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.Docker.CPU = 2; c.Docker.Memory = "1GiB" })
	alice := testUser(t, aliceUID)
	cases := []struct {
		name  string
		spec  api.JobSpec
		field string
		want  string
	}{
		{"no command", api.JobSpec{Name: "x"}, "command", "command or a script"},
		{"too many cores", api.JobSpec{Name: "x", Command: "true", Resources: &api.Resources{CPU: 64}}, "resources.cpu", "2 at most"},
		{"too much memory", api.JobSpec{Name: "x", Command: "true", Resources: &api.Resources{Memory: "2GiB"}}, "resources.memory", "at most"},
		{"unknown volume", api.JobSpec{Name: "x", Command: "true", Volumes: []string{"data"}}, "volumes[0]", `unknown volume "data"; available: home`},
		{"root not allowed", api.JobSpec{Name: "x", Command: "true", Root: true}, "root", "allow_root"},
		{"reserved env", api.JobSpec{Name: "x", Command: "true", Env: map[string]string{"GODOCKER_JID": "1"}}, "env.GODOCKER_JID", "reserved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ta.Submit(context.Background(), alice, &tc.spec)
			must.Error(t, err)
			e := err.(*Error)
			must.Eq(t, http.StatusBadRequest, e.Code)
			must.SliceNotEmpty(t, e.Fields)
			must.Eq(t, tc.field, e.Fields[0].Field)
			must.StrContains(t, e.Fields[0].Message, tc.want)
		})
	}
	jobs, err := ta.store.List(context.Background(), store.Filter{})
	must.NoError(t, err)
	must.SliceEmpty(t, jobs)
}

// A user sees and acts on their own jobs only; root (the admin) sees all.
func TestLifecycle_OwnJobsOnly(t *testing.T) {
	ta := startAgent(t, nil)
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	root := testUser(t, 0)
	ctx := context.Background()
	id := ta.submit(alice, api.JobSpec{Name: "mine", Command: "echo secret"})
	ta.waitOver(alice, id)

	_, err := ta.Job(ctx, bob, id, 0, 0)
	must.ErrorContains(t, err, "belongs to another user")
	_, err = ta.Stop(ctx, bob, id)
	must.ErrorContains(t, err, "belongs to another user")
	var sb strings.Builder
	err = ta.Logs(ctx, bob, id, api.LogStdout, 0, false, &sb, func() {})
	must.ErrorContains(t, err, "belongs to another user")
	must.Eq(t, "", sb.String())
	list, err := ta.Jobs(ctx, bob, &api.JobListOptions{})
	must.NoError(t, err)
	must.SliceEmpty(t, list)

	list, err = ta.Jobs(ctx, root, &api.JobListOptions{})
	must.NoError(t, err)
	must.SliceLen(t, 1, list)
	must.NoError(t, ta.Logs(ctx, alice, id, api.LogStdout, 0, false, &sb, func() {}))
	must.Eq(t, "secret\n", sb.String())
}

// A link planted in the job directory never makes the agent (root) read a
// file the user could not read.
func TestLifecycle_LogsRefuseLinks(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	id := ta.submit(alice, api.JobSpec{Name: "evil", Command: "echo x; ln -sf /etc/shadow god.err; ln /etc/hostname hard 2>/dev/null; exit 0"})
	ta.waitOver(alice, id)
	var sb strings.Builder
	err := ta.Logs(ctx, alice, id, api.LogStderr, 0, false, &sb, func() {})
	must.ErrorContains(t, err, "symbolic link")
	must.Eq(t, "", sb.String())
}

// A job whose image cannot be had ends over/failed with the reason instead
// of waiting forever.
func TestLifecycle_MissingImageFails(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "noimg", Image: "godocker/does-not-exist:nope", Command: "true"})
	j := ta.waitOver(alice, id)
	must.Eq(t, api.SecondaryFailed, j.Status.Secondary)
	must.StrContains(t, j.Status.Reason, "godocker/does-not-exist:nope")
	must.Nil(t, j.Status.ExitCode)
}
