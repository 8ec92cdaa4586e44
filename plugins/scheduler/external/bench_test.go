package external

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
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
// the answer.
//
//	go test -run '^$' -bench Order100k -count 10 ./plugins/scheduler/external/
func BenchmarkOrder100k(b *testing.B) {
	snap := benchSnapshot(100_000)
	ctx := context.Background()
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			ds, err := fifo.Scheduler{}.Order(ctx, snap)
			if err != nil || len(ds) != len(snap.Pending) {
				b.Fatal(err, len(ds))
			}
		}
	})
	b.Run("plugin", func(b *testing.B) {
		s, err := New(hclog.NewNullLogger(), buildPlugin(b, "./testdata/testplugin"), map[string]string{"policy": "fifo"}, fifo.Scheduler{})
		must.NoError(b, err)
		defer s.Close()
		for b.Loop() {
			ds, err := s.Order(ctx, snap)
			if err != nil || len(ds) != len(snap.Pending) {
				b.Fatal(err, len(ds))
			}
		}
	})
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
