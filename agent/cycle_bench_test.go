package agent

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/fake"
	"github.com/godocker/god/plugins/scheduler"
)

// BenchmarkCycle measures one full scheduling pass over a large queue: the
// snapshot, the policy's order and the first fit attempt, with the
// executor full so that nothing is dispatched (the pass is the cost).
// 1,000 users own the jobs. The design's target: ≤ 100 ms at 100,000.
func BenchmarkCycle(b *testing.B) {
	for _, policy := range []string{"fifo", "fairshare"} {
		for _, n := range []int{10_000, 100_000} {
			b.Run(fmt.Sprintf("%s/pending=%d", policy, n), func(b *testing.B) {
				benchCycle(b, policy, n)
			})
		}
	}
}

func benchCycle(b *testing.B, policy string, n int) {
	benchCycleWith(b, Policy(&config.Scheduler{Name: policy}), n)
}

func benchCycleWith(b *testing.B, policy scheduler.Scheduler, n int) {
	a := agentOn(b, fake.New(executor.Capacity{CPU: 1, Memory: 1 << 30}), nil)
	a.policy = policy
	blocker := &job.Job{ID: 1 << 40, CPU: 1, Memory: 1 << 30, Status: api.Status{Primary: api.StateRunning}}
	a.book(blocker)
	now := time.Now()
	for i := range n {
		j := &job.Job{
			ID:     int64(i + 1),
			User:   api.User{Name: fmt.Sprintf("u%d", i%1000), UID: 30000 + i%1000},
			CPU:    1,
			Memory: 1 << 28,
			Status: api.Status{Primary: api.StatePending},
		}
		j.Dates.Submitted = now.Add(time.Duration(i) * time.Millisecond)
		a.queued(j)
	}
	sem := make(chan struct{}, maxConcurrentDispatch)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.cycle(ctx, sem); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueueMemory reports the heap each queued job takes in the
// agent (B5's "≤ 1 KiB per queued job"), for a typical small spec.
func BenchmarkQueueMemory(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		a := agentOn(b, fake.New(executor.Capacity{CPU: 1, Memory: 1 << 30}), nil)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		now := time.Now()
		for i := range n {
			j := &job.Job{
				ID:     int64(i + 1),
				Spec:   api.JobSpec{Name: "align", Image: "debian:bookworm-slim", Command: "bwa mem ref.fa reads.fq > out.sam", Tags: []string{"rnaseq"}},
				User:   api.User{Name: fmt.Sprintf("u%d", i%1000), UID: 30000 + i%1000, GID: 30000 + i%1000, Home: fmt.Sprintf("/home/u%d", i%1000)},
				CPU:    1,
				Memory: 1 << 30,
				Status: api.Status{Primary: api.StatePending},
			}
			j.Dates.Submitted = now
			a.queued(j)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(a)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "B/queued-job")
	}
}
