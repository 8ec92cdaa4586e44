package agent

import (
	"context"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	agenthttp "github.com/godocker/god/agent/http"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
	"github.com/godocker/god/store"
)

// A submit retried with its idempotency key returns the job the first try
// stored, even where a new submit would be refused (the caller is at their
// pending cap because of that very job); the same key from another user
// is their own submit; arrays are stored once too.
func TestSubmit_IdempotencyKey(t *testing.T) {
	a := agentOn(t, fake.New(executor.Capacity{CPU: 4, Memory: 8 << 30}), func(c *config.Config) { c.MaxPendingPerUser = 4 })
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	keyed := agenthttp.WithSubmitKey(context.Background(), "k-1")
	spec := api.JobSpec{Name: "once", Command: "true", Array: "1:3"}

	first, err := a.Submit(keyed, alice, &spec)
	must.NoError(t, err)
	again, err := a.Submit(keyed, alice, &spec)
	must.NoError(t, err)
	must.Eq(t, first.ID, again.ID, must.Sprint("the retry names the stored job"))

	// Alice's pending cap is 4: a new array of 3 would be refused now, a
	// retry of the stored one is not.
	_, err = a.Submit(context.Background(), alice, &spec)
	must.ErrorContains(t, err, "pending")
	again, err = a.Submit(keyed, alice, &spec)
	must.NoError(t, err)
	must.Eq(t, first.ID, again.ID)

	theirs, err := a.Submit(keyed, bob, &api.JobSpec{Name: "bobs", Command: "true"})
	must.NoError(t, err)
	must.NotEq(t, first.ID, theirs.ID, must.Sprint("a key is its user's"))
	must.Eq(t, "god-bob", theirs.User.Name)

	all, err := a.store.List(context.Background(), store.Filter{})
	must.NoError(t, err)
	must.SliceLen(t, 1+3+1, all, must.Sprint("one array of 3 and bob's job: nothing stored twice"))
}
