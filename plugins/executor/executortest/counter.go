package executortest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"
)

// Counters show whether a job's processes run (or are frozen): a job
// runs CounterLoop, the test reads the file.

// CounterLoop is a shell loop that counts in file forever, ten times a
// second; each value is written aside and renamed, so a reader (or a
// pause) never catches it half written.
func CounterLoop(file string) string {
	return `i=0; while true; do i=$((i+1)); echo $i > ` + file + `.tmp; mv -f ` + file + `.tmp ` + file + `; sleep 0.1; done`
}

// ReadCounter is the value a CounterLoop last wrote, 0 before it began.
func ReadCounter(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	must.NoError(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	must.NoError(t, err, must.Sprintf("counter %s holds %q", path, b))
	return n
}

// WaitCounterAbove polls a counter until it exceeds n.
func WaitCounterAbove(t *testing.T, ctx context.Context, path string, n int) {
	t.Helper()
	for ReadCounter(t, path) <= n {
		select {
		case <-ctx.Done():
			t.Fatalf("counter %s stuck at %d: %v", path, ReadCounter(t, path), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
