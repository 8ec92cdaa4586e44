package agent

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/jobstore"
	"github.com/godocker/god/api"
	"github.com/godocker/god/store/redis/redistest"
)

// TestRedisStore: an agent on a Redis store runs a job submitted through
// its API; a second agent on the same store is refused while the first
// runs, and told which one holds it; restarted on the same server, the
// agent finds the job, the account, the project and the audit log.
func TestRedisStore(t *testing.T) {
	needDocker(t)
	srv := redistest.Start(t)
	onRedis := func(cfg *config.Config) {
		cfg.AllowRoot = true // the test submits as root, through the socket
		cfg.Store = &config.Store{Backend: "redis", Address: srv.Addr, Prefix: "agenttest:"}
	}
	ta := startAgent(t, onRedis)
	ctx := context.Background()
	c, err := api.NewClient(&api.Config{Address: "unix://" + ta.cfg.Socket})
	must.NoError(t, err)
	r, err := c.Jobs().Submit(ctx, &api.JobSpec{Name: "on-redis", Command: "echo stored in redis"})
	must.NoError(t, err)
	root := testUser(t, 0)
	j := ta.waitOver(root, r.ID)
	must.EqOp(t, 0, exitCode(j))
	_, err = ta.CreateProject(ctx, root, &api.Project{Name: "lab", Members: []string{"root"}})
	must.NoError(t, err)

	second := testConfig(t)
	onRedis(second)
	must.NoError(t, second.Finalize())
	_, err = jobstore.Open(ctx, second)
	host, _ := os.Hostname()
	must.ErrorContains(t, err, fmt.Sprintf("another agent uses the store at %s (prefix %q): pid %d on host %s", srv.Addr, "agenttest:", os.Getpid(), host))

	ta = ta.restart()
	got, err := ta.Job(ctx, root, r.ID, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StateOver, got.Status.Primary)
	must.EqOp(t, 0, exitCode(got))
	must.Eq(t, "on-redis", got.Spec.Name)
	accounts, err := ta.Accounts(ctx, root)
	must.NoError(t, err)
	must.True(t, slices.ContainsFunc(accounts, func(a *api.Account) bool { return a.Login == "root" }))
	projects, err := ta.Projects(ctx, root)
	must.NoError(t, err)
	must.True(t, slices.ContainsFunc(projects, func(p *api.Project) bool {
		return p.Name == "lab" && slices.Equal(p.Members, []string{"root"})
	}))
	audit, err := ta.Audit(ctx, root, &api.AuditQuery{Actor: "root", Action: "job.submit"})
	must.NoError(t, err)
	must.SliceLen(t, 1, audit)
	must.Eq(t, api.OutcomeOK, audit[0].Outcome)
	// Ids go on after the stored jobs.
	next := ta.submit(root, api.JobSpec{Name: "after-restart", Command: "true", Project: "lab"})
	must.Greater(t, r.ID, next)
	ta.waitOver(root, next)
}
