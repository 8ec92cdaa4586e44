package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/store/redis/redistest"
)

func held(name string) api.JobSpec {
	return api.JobSpec{Name: name, Command: "true", Hold: true}
}

// A batch through the client is stored whole, in order, each job durable
// and pending; a batch with any bad item is refused whole with each
// item's fields named, and stores nothing.
func TestSubmitBatch_AllOrNothing(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.AllowRoot = true })
	c, err := api.NewClient(&api.Config{Address: "unix://" + ta.cfg.Socket})
	must.NoError(t, err)
	ctx := context.Background()

	resp, err := c.Jobs().SubmitBatch(ctx, []api.BatchItem{{Spec: held("a")}, {Spec: held("b")}, {Spec: held("c")}})
	must.NoError(t, err)
	must.SliceLen(t, 3, resp.Jobs)
	for i, r := range resp.Jobs {
		j, err := c.Jobs().Info(ctx, r.ID)
		must.NoError(t, err)
		must.Eq(t, string(rune('a'+i)), j.Spec.Name)
		must.Eq(t, api.StatePending, j.Status.Primary)
		must.True(t, j.Held)
	}

	bad := held("d")
	bad.Resources = &api.Resources{Memory: "lots"}
	_, err = c.Jobs().SubmitBatch(ctx, []api.BatchItem{{Spec: held("ok")}, {Spec: bad}, {Spec: api.JobSpec{Name: "e"}}})
	var ae *api.APIError
	must.True(t, errors.As(err, &ae), must.Sprint(err))
	must.Eq(t, http.StatusBadRequest, ae.StatusCode)
	must.StrContains(t, ae.Message, "nothing of the 3 was submitted")
	fields := map[string]bool{}
	for _, f := range ae.Fields {
		fields[f.Field] = true
	}
	must.True(t, fields["jobs[1].resources.memory"], must.Sprintf("%v", ae.Fields))
	must.True(t, fields["jobs[2].command"], must.Sprintf("%v", ae.Fields))
	list, err := c.Jobs().List(ctx, nil)
	must.NoError(t, err)
	must.SliceLen(t, 3, list, must.Sprint("nothing of the refused batch is stored"))

	arr := held("arr")
	arr.Array = "1:3"
	_, err = c.Jobs().SubmitBatch(ctx, []api.BatchItem{{Spec: held("x")}, {Spec: arr}})
	must.ErrorContains(t, err, "jobs[1].array")

	_, err = c.Jobs().SubmitBatch(ctx, nil)
	must.ErrorContains(t, err, "empty batch")
}

// Keys make a batch safe to send again: the same keys return the same
// jobs, a key repeated within a batch is one job, and a key is the
// caller's own: another user's batch with the same key gets a job of its
// own, never the first user's.
func TestSubmitBatch_KeysPerCaller(t *testing.T) {
	ta := startAgent(t, nil)
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	ctx := context.Background()
	items := []api.BatchItem{{Spec: held("one"), Key: "k1"}, {Spec: held("two"), Key: "k2"}, {Spec: held("again"), Key: "k1"}}

	first, err := ta.SubmitBatch(ctx, alice, items)
	must.NoError(t, err)
	must.Eq(t, first[0].ID, first[2].ID, must.Sprint("a key repeated in a batch is one job"))
	must.NotEq(t, first[0].ID, first[1].ID)
	again, err := ta.SubmitBatch(ctx, alice, items)
	must.NoError(t, err)
	for i := range items {
		must.Eq(t, first[i].ID, again[i].ID, must.Sprintf("item %d resent", i))
	}

	theirs, err := ta.SubmitBatch(ctx, bob, items[:2])
	must.NoError(t, err)
	for i, j := range theirs {
		must.NotEq(t, first[i].ID, j.ID)
		must.Eq(t, bob.UID, j.User.UID)
		must.Eq(t, "god-bob", j.User.Name)
	}
	for _, j := range first {
		must.Eq(t, alice.UID, j.User.UID)
	}
	_, err = ta.Job(ctx, bob, first[0].ID, 0, 0)
	must.ErrorContains(t, err, "belongs to another user")
}

// The batch endpoint takes the submitter from the connection, like the
// single submit: a body cannot name another user.
func TestSubmitBatch_NoOtherUser(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.AllowRoot = true })
	hc := rawClient(ta.cfg.Socket)
	for name, body := range map[string]string{
		"user in item": `{"jobs":[{"spec":{"name":"x","command":"true"},"user":{"name":"god-alice","uid":23001}}]}`,
		"user in spec": `{"jobs":[{"spec":{"name":"x","command":"true","user":"god-alice"}}]}`,
		"uid in body":  `{"uid":23001,"jobs":[{"spec":{"name":"x","command":"true"}}]}`,
		"bad key":      `{"jobs":[{"spec":{"name":"x","command":"true"},"key":"two words"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := hc.Post("http://god/v1/jobs/batch", "application/json", strings.NewReader(body))
			must.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			must.Eq(t, http.StatusBadRequest, resp.StatusCode, must.Sprint(string(b)))
		})
	}
	list, err := ta.Jobs(context.Background(), testUser(t, 0), &api.JobListOptions{})
	must.NoError(t, err)
	must.SliceEmpty(t, list)
}

// On the Redis store, which has no atomic batch write, a batch is stored
// job by job: the same answers, keys included.
func TestSubmitBatch_RedisStore(t *testing.T) {
	needDocker(t)
	srv := redistest.Start(t)
	ta := startAgent(t, func(cfg *config.Config) {
		cfg.Store = &config.Store{Backend: "redis", Address: srv.Addr, Prefix: "batchtest:"}
	})
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	items := []api.BatchItem{{Spec: held("r1"), Key: "a"}, {Spec: held("r2"), Key: "b"}, {Spec: held("r3")}}
	first, err := ta.SubmitBatch(ctx, alice, items)
	must.NoError(t, err)
	must.SliceLen(t, 3, first)
	again, err := ta.SubmitBatch(ctx, alice, items[:2])
	must.NoError(t, err)
	must.Eq(t, first[0].ID, again[0].ID)
	must.Eq(t, first[1].ID, again[1].ID)
	for i, j := range first {
		got, err := ta.Job(ctx, alice, j.ID, 0, 0)
		must.NoError(t, err)
		must.Eq(t, items[i].Spec.Name, got.Spec.Name)
	}
	bad := held("bad")
	bad.Resources = &api.Resources{Memory: "lots"}
	_, err = ta.SubmitBatch(ctx, alice, []api.BatchItem{{Spec: held("r4")}, {Spec: bad}})
	must.ErrorContains(t, err, "nothing of the 2 was submitted")
	list, err := ta.Jobs(ctx, alice, &api.JobListOptions{})
	must.NoError(t, err)
	must.SliceLen(t, 3, list)
}
