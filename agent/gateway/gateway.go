// Package gateway carries sessions into running jobs: `god job exec` and
// `god job ssh` reach a job's container through the agent, as the job's
// user, without sshd or a network in the image and without Docker rights
// for anyone. It counts the sessions of each job against a limit, ends
// idle ones, and pumps one session between a websocket (the api package's
// exec protocol) and the executor's command.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor"
)

// Gateway keeps the count of open sessions per job.
type Gateway struct {
	// MaxPerJob is how many sessions a job may have open at once.
	MaxPerJob int
	// IdleTimeout ends a session with no input or output for that long.
	IdleTimeout time.Duration

	mu   sync.Mutex
	open map[int64]int
}

// ErrTooMany is returned by Open when a job has MaxPerJob sessions.
var ErrTooMany = errors.New("too many sessions")

// Open starts a session into job id with start, if the job has room for
// one more. The session counts until it is closed.
func (g *Gateway) Open(jobID int64, start func() (executor.ExecSession, error)) (*Session, error) {
	g.mu.Lock()
	if g.open == nil {
		g.open = map[int64]int{}
	}
	if g.open[jobID] >= g.MaxPerJob {
		g.mu.Unlock()
		return nil, fmt.Errorf("%w: job %d has %d open (the agent's sessions.max_per_job); close one first", ErrTooMany, jobID, g.MaxPerJob)
	}
	g.open[jobID]++
	g.mu.Unlock()
	s, err := start()
	if err != nil {
		g.release(jobID)
		return nil, err
	}
	return &Session{g: g, jobID: jobID, s: s}, nil
}

// OpenSessions returns how many sessions job id has open.
func (g *Gateway) OpenSessions(jobID int64) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open[jobID]
}

func (g *Gateway) release(jobID int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open[jobID]--; g.open[jobID] <= 0 {
		delete(g.open, jobID)
	}
}

// Session is one command running in a job, counted by its gateway.
type Session struct {
	g      *Gateway
	jobID  int64
	s      executor.ExecSession
	closed sync.Once
}

// Close ends the command's session and frees its place.
func (s *Session) Close() {
	s.closed.Do(func() {
		_ = s.s.Close()
		s.g.release(s.jobID)
	})
}

// Serve pumps the session over conn until the command exits, the client
// goes away or the session is idle for the gateway's IdleTimeout; it
// closes both and returns how the session ended.
func (s *Session) Serve(ctx context.Context, conn *websocket.Conn) api.ExecResult {
	defer s.Close()
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn.SetReadLimit(1 << 20)

	var last atomic.Int64 // unix nanos of the last input or output
	touch := func() { last.Store(time.Now().UnixNano()) }
	touch()
	var wmu sync.Mutex
	send := func(ch byte, p []byte) error {
		touch()
		wmu.Lock()
		defer wmu.Unlock()
		return conn.Write(ctx, websocket.MessageBinary, append([]byte{ch}, p...))
	}

	// Input: stdin, end of input, resizes. A client gone ends the session.
	clientGone := make(chan struct{})
	go func() {
		defer close(clientGone)
		stdin := s.s.Stdin()
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				return
			}
			touch()
			if len(msg) == 0 {
				continue
			}
			switch msg[0] {
			case api.ExecStdin:
				if _, err := stdin.Write(msg[1:]); err != nil {
					return
				}
			case api.ExecEOF:
				_ = stdin.Close()
			case api.ExecResize:
				var sz api.ExecSize
				if json.Unmarshal(msg[1:], &sz) == nil && sz.Rows > 0 && sz.Cols > 0 {
					_ = s.s.Resize(ctx, sz.Rows, sz.Cols)
				}
			}
		}
	}()

	// Output: stdout and stderr until both end.
	var outputs sync.WaitGroup
	for ch, r := range map[byte]io.Reader{api.ExecStdout: s.s.Stdout(), api.ExecStderr: s.s.Stderr()} {
		if r == nil {
			continue
		}
		outputs.Add(1)
		go func() {
			defer outputs.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 && send(ch, buf[:n]) != nil {
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	outputDone := make(chan struct{})
	go func() { outputs.Wait(); close(outputDone) }()

	var idle <-chan time.Time
	if s.g.IdleTimeout > 0 {
		t := time.NewTicker(min(s.g.IdleTimeout/4, time.Second))
		defer t.Stop()
		idle = t.C
	}
	for {
		select {
		case <-outputDone:
			code, err := s.s.Wait(ctx)
			res := api.ExecResult{ExitCode: code}
			if err != nil {
				res.Error = "reading the command's exit code: " + err.Error()
			}
			finish(conn, send, res)
			return res
		case <-clientGone:
			return api.ExecResult{ExitCode: -1, Error: "the client went away"}
		case <-ctx.Done():
			return api.ExecResult{ExitCode: -1, Error: "the agent is shutting down"}
		case <-idle:
			if time.Since(time.Unix(0, last.Load())) >= s.g.IdleTimeout {
				res := api.ExecResult{ExitCode: -1, Error: fmt.Sprintf("the session was idle for %s (the agent's sessions.idle_timeout) and was closed", s.g.IdleTimeout)}
				finish(conn, send, res)
				return res
			}
		}
	}
}

// finish sends the session's end and closes the websocket cleanly.
func finish(conn *websocket.Conn, send func(byte, []byte) error, res api.ExecResult) {
	b, _ := json.Marshal(res)
	if send(api.ExecExit, b) == nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
}
