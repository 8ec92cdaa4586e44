package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/scheduler"
	"github.com/godocker/god/plugins/scheduler/fifo"
)

// benchSnapshot is a large site's queue: n pending jobs of 1,000 users in
// 100 projects, in no particular order.
func benchSnapshot(n int) *scheduler.Snapshot {
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	s := &scheduler.Snapshot{
		Now:          now,
		Usage:        map[int]float64{},
		Running:      map[int]float64{},
		ProjectUsage: map[string]float64{},
		Free:         scheduler.Resources{CPU: 512, Memory: 4 << 40, GPU: 16},
	}
	for u := range 1000 {
		s.Usage[10000+u] = r.Float64() * 1e6
		s.Running[10000+u] = float64(r.IntN(32))
	}
	for p := range 100 {
		s.ProjectUsage[fmt.Sprintf("project-%02d", p)] = r.Float64() * 1e7
	}
	for i := range n {
		u := r.IntN(1000)
		s.Pending = append(s.Pending, scheduler.Job{
			ID: int64(1 + i), UID: 10000 + u, User: fmt.Sprintf("user%03d", u),
			Submitted: now.Add(-time.Duration(n-i) * time.Second),
			CPU:       float64(1 + r.IntN(8)), Memory: int64(1+r.IntN(16)) << 30,
			Project: fmt.Sprintf("project-%02d", u%100), Group: "lab", Priority: 50,
		})
	}
	r.Shuffle(len(s.Pending), func(i, j int) { s.Pending[i], s.Pending[j] = s.Pending[j], s.Pending[i] })
	return s
}

// BenchmarkOrder100k is one scheduling cycle's Order with 100,000 pending
// jobs: fifo in the agent's process, and the same fifo served by a plugin,
// which adds encoding, gRPC over a Unix socket, decoding and the check of
// the answer. Besides the wall time it reports cpu-ms/op, the processor
// time of the agent's side plus the plugin's, which a busy machine
// disturbs less:
//
//	go test -run '^$' -bench Order100k -benchtime 20x -count 10 ./plugins/scheduler/external/
func BenchmarkOrder100k(b *testing.B) {
	snap := benchSnapshot(100_000)
	ctx := context.Background()
	b.Run("in-process", func(b *testing.B) {
		cpu := cpuTime(b, 0)
		for b.Loop() {
			ds, err := fifo.Scheduler{}.Order(ctx, snap)
			if err != nil || len(ds) != len(snap.Pending) {
				b.Fatal(err, len(ds))
			}
		}
		b.ReportMetric(float64(cpuTime(b, 0)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	})
	b.Run("plugin", func(b *testing.B) {
		log, logs := newLogger()
		s, err := New(log, buildPlugin(b, "./testdata/testplugin"), map[string]string{"policy": "fifo"}, fifo.Scheduler{})
		must.NoError(b, err)
		defer s.Close()
		// The first calls grow both processes' heaps.
		for range 3 {
			_, err := s.Order(ctx, snap)
			must.NoError(b, err)
		}
		pid := pid(s)
		cpu := cpuTime(b, 0) + cpuTime(b, pid)
		for b.Loop() {
			ds, err := s.Order(ctx, snap)
			if err != nil || len(ds) != len(snap.Pending) {
				b.Fatal(err, len(ds))
			}
		}
		b.ReportMetric(float64(cpuTime(b, 0)+cpuTime(b, pid)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		must.StrNotContains(b, logs.String(), "bypassed")
	})
}

// cpuTime is the user and system time of process pid so far (this one if
// 0), from /proc with the kernel's clock tick of 10ms.
func cpuTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	must.NoError(tb, err)
	// The fields after the command name, which is in parentheses; utime
	// and stime are the 14th and 15th fields of the line.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	must.NoError(tb, errors.Join(err1, err2))
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// The benchmark's plugin really answers, within the default timeout: a
// bypass would fall back to the same fifo order and hide it.
func TestOrder100kThroughThePlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 100,000-job round trip in -short mode")
	}
	log, logs := newLogger()
	s, err := New(log, buildPlugin(t, "./testdata/testplugin"), nil, fifo.Scheduler{})
	must.NoError(t, err)
	defer s.Close()
	snap := benchSnapshot(100_000)
	ds, err := s.Order(context.Background(), snap)
	must.NoError(t, err)
	must.StrNotContains(t, logs.String(), "bypassed")
	must.Eq(t, reverseIDs(snap), ids(ds))
}
