package nomad

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/godocker/god/plugins/executor"
)

// Logs implements executor.LogReader through Nomad's filesystem API, asked
// of the configured address: the server forwards to the node that ran the
// job, so the agent needs no route to the Nomad clients. A job that has
// not been placed yet has no logs: an empty reader.
func (e *Executor) Logs(ctx context.Context, jobID int64, stderr bool) (io.ReadCloser, error) {
	v, err := e.lookup(ctx, jobID)
	if err != nil {
		return nil, err
	}
	if len(v.allocs) == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	logType := api.FSLogNameStdout
	if stderr {
		logType = api.FSLogNameStderr
	}
	q := queryOpts(ctx)
	q.Params = map[string]string{
		"task":   taskName,
		"type":   logType,
		"origin": api.OriginStart,
		"offset": "0",
		"follow": "false",
		"plain":  "true",
	}
	r, err := e.cli.Raw().Response("/v1/client/fs/logs/"+url.PathEscape(v.allocs[0].ID), q)
	if err != nil {
		if isNotFound(err) {
			// The allocation's directory is gone (garbage collected).
			return nil, executor.ErrNotFound
		}
		return nil, fmt.Errorf("reading %s of Nomad job %s: %w", logType, v.nomadID, err)
	}
	return r, nil
}
