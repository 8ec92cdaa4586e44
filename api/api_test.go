package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// keyServer answers submits: the first `fail` calls fail as fail says
// (a dropped connection or a 502), later ones succeed. It records the
// idempotency key of each call.
type keyServer struct {
	mu   sync.Mutex
	keys []string
	fail func(w http.ResponseWriter, call int) bool
}

func (s *keyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.keys = append(s.keys, r.Header.Get(HeaderIdempotencyKey))
	call := len(s.keys)
	s.mu.Unlock()
	if s.fail(w, call) {
		return
	}
	_ = json.NewEncoder(w).Encode(&SubmitResponse{ID: 42, Msg: "Job submitted"})
}

func (s *keyServer) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// dropConn closes the connection without an answer: the request went out,
// the outcome is unknown.
func dropConn(w http.ResponseWriter) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		c.Close()
	}
}

func TestSubmitRetriesLostAnswerWithSameKey(t *testing.T) {
	for name, fail := range map[string]func(w http.ResponseWriter, call int) bool{
		"connection dropped": func(w http.ResponseWriter, call int) bool {
			if call == 1 {
				dropConn(w)
				return true
			}
			return false
		},
		"502 from a follower": func(w http.ResponseWriter, call int) bool {
			if call <= 2 {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte(`{"error":"the leader stopped answering"}`))
				return true
			}
			return false
		},
	} {
		t.Run(name, func(t *testing.T) {
			ks := &keyServer{fail: fail}
			srv := httptest.NewServer(ks)
			defer srv.Close()
			c, err := NewClient(&Config{Address: srv.URL, RetryUnavailable: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Jobs().Submit(context.Background(), &JobSpec{Name: "x", Command: "true"})
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			if r.ID != 42 {
				t.Fatalf("got job %d", r.ID)
			}
			keys := ks.calls()
			if len(keys) < 2 {
				t.Fatalf("no retry: %d call(s)", len(keys))
			}
			for _, k := range keys {
				if k == "" || k != keys[0] {
					t.Fatalf("every try must carry the same key: %q", keys)
				}
			}
			// A second submit is another job: another key.
			if _, err := c.Jobs().Submit(context.Background(), &JobSpec{Name: "y", Command: "true"}); err != nil {
				t.Fatal(err)
			}
			if k := ks.calls(); k[len(k)-1] == keys[0] {
				t.Fatalf("two submits shared key %q", keys[0])
			}
		})
	}
}

// A request without a key whose answer is lost is not sent again: it
// might be carried out twice.
func TestUnkeyedRequestNotRetriedAfterLostAnswer(t *testing.T) {
	ks := &keyServer{fail: func(w http.ResponseWriter, call int) bool { dropConn(w); return true }}
	srv := httptest.NewServer(ks)
	defer srv.Close()
	c, err := NewClient(&Config{Address: srv.URL, RetryUnavailable: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.do(context.Background(), http.MethodPost, "/v1/jobs/1/stop", nil, nil, nil); err == nil {
		t.Fatal("a dropped connection is an error")
	}
	if n := len(ks.calls()); n != 1 {
		t.Fatalf("sent %d times", n)
	}
}

// An agent that is not there is reported at once: nothing was sent, so
// the submit does not wait out the retry period.
func TestSubmitToNoAgentFailsAtOnce(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	c, err := NewClient(&Config{Address: addr, RetryUnavailable: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = c.Jobs().Submit(ctx, &JobSpec{Name: "x", Command: "true"})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("want connection refused, got %v", err)
	}
}
