package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// The exec protocol: GET /v1/job/{id}/exec upgrades to a websocket whose
// binary messages start with a channel byte.
const (
	ExecStdin  byte = 0 // client → agent: input
	ExecStdout byte = 1 // agent → client: output (all of it with a TTY)
	ExecStderr byte = 2 // agent → client: error output
	ExecResize byte = 3 // client → agent: ExecSize as JSON
	ExecExit   byte = 4 // agent → client: ExecResult as JSON, the last message
	ExecEOF    byte = 5 // client → agent: end of input (no payload)
)

// ExecOptions is the command to run in a running job's container.
type ExecOptions struct {
	Command []string
	// TTY gives it a terminal of Rows x Cols (a shell); its output is
	// then one stream.
	TTY        bool
	Rows, Cols uint
}

// ExecSize is a terminal size.
type ExecSize struct {
	Rows uint `json:"rows"`
	Cols uint `json:"cols"`
}

// ExecResult ends a session: the command's exit code, or why it could not
// run or went on no longer.
type ExecResult struct {
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
}

// ExecQuery is the upgrade request's query for opts.
func ExecQuery(opts *ExecOptions) url.Values {
	q := url.Values{"command": opts.Command}
	if opts.TTY {
		q.Set("tty", "true")
		if opts.Rows > 0 && opts.Cols > 0 {
			q.Set("rows", strconv.FormatUint(uint64(opts.Rows), 10))
			q.Set("cols", strconv.FormatUint(uint64(opts.Cols), 10))
		}
	}
	return q
}

// ExecSession is an open session into a job.
type ExecSession struct {
	conn *websocket.Conn
	wmu  sync.Mutex
}

// Exec opens a session running opts.Command in job id's container, as the
// job's user. Errors before the session opens are *APIError (403 for
// another user's job, 409 for a job that is not running...).
func (j *Jobs) Exec(ctx context.Context, id int64, opts *ExecOptions) (*ExecSession, error) {
	c := j.c
	u := strings.Replace(c.base, "http", "ws", 1) + "/v1/job/" + strconv.FormatInt(id, 10) + "/exec?" + ExecQuery(opts).Encode()
	h := http.Header{}
	if c.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, decodeError(resp)
		}
		return nil, fmt.Errorf("cannot reach the GoDocker agent at %s: %w", c.cfg.Address, unwrapURLError(err))
	}
	conn.SetReadLimit(1 << 20)
	return &ExecSession{conn: conn}, nil
}

func (s *ExecSession) send(ctx context.Context, ch byte, p []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.conn.Write(ctx, websocket.MessageBinary, append([]byte{ch}, p...))
}

// Resize tells the session's terminal its new size.
func (s *ExecSession) Resize(ctx context.Context, rows, cols uint) error {
	b, _ := json.Marshal(ExecSize{Rows: rows, Cols: cols})
	return s.send(ctx, ExecResize, b)
}

// Run pumps stdin to the command (end of stdin is end of its input) and
// its output to stdout and stderr until it exits; it returns the exit
// code. Cancelling ctx closes the session.
func (s *ExecSession) Run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	defer s.conn.CloseNow()
	if stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 && s.send(ctx, ExecStdin, buf[:n]) != nil {
					return
				}
				if err != nil {
					_ = s.send(ctx, ExecEOF, nil)
					return
				}
			}
		}()
	}
	for {
		_, msg, err := s.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			if reason := websocket.CloseStatus(err); reason != -1 {
				var ce websocket.CloseError
				if errors.As(err, &ce) && ce.Reason != "" {
					return -1, errors.New(ce.Reason)
				}
			}
			return -1, fmt.Errorf("the session ended before the command: %w", err)
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case ExecStdout:
			if _, err := stdout.Write(msg[1:]); err != nil {
				return -1, err
			}
		case ExecStderr:
			if _, err := stderr.Write(msg[1:]); err != nil {
				return -1, err
			}
		case ExecExit:
			var e ExecResult
			if err := json.Unmarshal(msg[1:], &e); err != nil {
				return -1, fmt.Errorf("decoding the exit message: %w", err)
			}
			s.conn.Close(websocket.StatusNormalClosure, "")
			if e.Error != "" {
				return e.ExitCode, errors.New(e.Error)
			}
			return e.ExitCode, nil
		}
	}
}
