package agent

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
)

// rawClient speaks HTTP to the agent's Unix socket.
func rawClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
}

// The JSON API refuses bad requests with a 4xx, a message and the field to
// fix; nothing is stored.
func TestAPI_Errors(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.AllowRoot = true })
	hc := rawClient(ta.cfg.Socket)
	cases := []struct {
		name, method, path, body string
		code                     int
		want                     string
		header                   map[string]string
	}{
		{"not json", "POST", "/v1/jobs", "{", 400, "invalid job spec JSON", nil},
		{"unknown field", "POST", "/v1/jobs", `{"name":"x","command":"true","privileged":true}`, 400, `unknown field "privileged"`, nil},
		{"invalid spec", "POST", "/v1/jobs", `{"name":"x"}`, 400, "command or a script", nil},
		{"bad memory", "POST", "/v1/jobs", `{"name":"x","command":"true","resources":{"memory":"lots"}}`, 400, "resources.memory", nil},
		{"bad id", "GET", "/v1/job/abc", "", 400, "job ids are positive integers", nil},
		{"missing job", "GET", "/v1/job/999", "", 404, "job 999 not found", nil},
		{"bad state", "GET", "/v1/jobs?state=done", "", 400, "use pending, running, over or archived", nil},
		{"logs of missing job", "GET", "/v1/job/1/logs?stream=stdout", "", 404, "job 1 not found", nil},
		{"no endpoint", "GET", "/v1/nothing", "", 404, "no such endpoint", nil},
		{"bad idempotency key", "POST", "/v1/jobs", `{"name":"x","command":"true"}`, 400, "Idempotency-Key: use 1 to 128 printable", map[string]string{"Idempotency-Key": "two words"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://god"+tc.path, strings.NewReader(tc.body))
			must.NoError(t, err)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			must.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			must.Eq(t, tc.code, resp.StatusCode, must.Sprint(string(b)))
			var er api.ErrorResponse
			must.NoError(t, json.Unmarshal(b, &er), must.Sprint(string(b)))
			text := er.Error
			for _, f := range er.Fields {
				text += "\n" + f.Field + ": " + f.Message
			}
			must.StrContains(t, text, tc.want)
		})
	}
	jobs, err := ta.Jobs(context.Background(), testUser(t, 0), &api.JobListOptions{})
	must.NoError(t, err)
	must.SliceEmpty(t, jobs)
}

// The Go client round-trips a job through the socket, and a blocking query
// returns as soon as the job changes.
func TestAPI_ClientRoundTrip(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.AllowRoot = true })
	c, err := api.NewClient(&api.Config{Address: "unix://" + ta.cfg.Socket})
	must.NoError(t, err)
	ctx := context.Background()
	self, err := c.Agent().Self(ctx)
	must.NoError(t, err)
	must.Eq(t, "root", self.Caller.Name)
	must.Eq(t, "docker", self.Executor)

	r, err := c.Jobs().Submit(ctx, &api.JobSpec{Name: "rt", Command: "echo out; echo err >&2", Tags: []string{"a"}})
	must.NoError(t, err)
	must.Eq(t, "Job submitted", r.Msg)
	j, err := c.Jobs().Info(ctx, r.ID)
	must.NoError(t, err)
	for j.Status.Primary != api.StateOver {
		j, err = c.Jobs().Wait(ctx, r.ID, j.Version, 0)
		must.NoError(t, err)
	}
	must.Eq(t, 0, exitCode(j))
	must.Eq(t, []string{"a"}, j.Spec.Tags)
	must.Eq(t, testImage, j.Spec.Image, must.Sprint("the default image is recorded"))
	must.True(t, j.Spec.Root, must.Sprint("uid 0 jobs are root jobs"))

	for stream, want := range map[string]string{api.LogStdout: "out\n", api.LogStderr: "err\n"} {
		rc, err := c.Jobs().Logs(ctx, r.ID, stream, 0, false)
		must.NoError(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		must.Eq(t, want, string(b))
	}
	rc, err := c.Jobs().Logs(ctx, r.ID, api.LogStdout, 2, false)
	must.NoError(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	must.Eq(t, "t\n", string(b), must.Sprint("offset"))

	list, err := c.Jobs().List(ctx, &api.JobListOptions{States: []string{api.StateOver}})
	must.NoError(t, err)
	must.SliceLen(t, 1, list)
	list, err = c.Jobs().List(ctx, &api.JobListOptions{States: []string{api.StatePending}})
	must.NoError(t, err)
	must.SliceEmpty(t, list)
}

// logs -f streams output while the job runs and ends when the job is over.
func TestAPI_FollowLogs(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.AllowRoot = true })
	c, err := api.NewClient(&api.Config{Address: "unix://" + ta.cfg.Socket})
	must.NoError(t, err)
	ctx := context.Background()
	r, err := c.Jobs().Submit(ctx, &api.JobSpec{Name: "follow", Command: "for i in 1 2 3; do echo line$i; sleep 0.3; done"})
	must.NoError(t, err)
	root := testUser(t, 0)
	ta.waitRunning(root, r.ID)
	rc, err := c.Jobs().Logs(ctx, r.ID, api.LogStdout, 0, true)
	must.NoError(t, err)
	b, err := io.ReadAll(rc) // returns only once the job is over
	rc.Close()
	must.NoError(t, err)
	must.Eq(t, "line1\nline2\nline3\n", string(b))
}
