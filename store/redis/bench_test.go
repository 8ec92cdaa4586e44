package redis_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/store"
	"github.com/godocker/god/store/sqlite"
	"github.com/godocker/god/store/storetest"
)

// BenchmarkCreate compares parallel creates in the Redis store (a local
// server with appendfsync always) and the embedded SQLite store, in one run
// on the same disk. Run it with -count to take medians.
func BenchmarkCreate(b *testing.B) {
	b.Run("redis", func(b *testing.B) {
		srv := startServer(b)
		s := open(b, srv.Addr, "")
		defer s.Close()
		benchmarkCreate(b, s)
	})
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(b.TempDir())
		must.NoError(b, err)
		defer s.Close()
		benchmarkCreate(b, s)
	})
}

func benchmarkCreate(b *testing.B, s store.Store) {
	ctx := context.Background()
	// 64 submitters per CPU: the agent's HTTP handlers under a burst.
	b.SetParallelism(64)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Create(ctx, storetest.NewJob(1000, int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// BenchmarkCreateArray10000 compares storing one array of 10,000 tasks: one
// script in Redis, one transaction in SQLite.
func BenchmarkCreateArray10000(b *testing.B) {
	run := func(b *testing.B, s store.Store) {
		n := 0
		for b.Loop() {
			parent, tasks := storetest.NewArray(1000, n, 10000)
			if err := s.CreateArray(context.Background(), parent, tasks); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64(n*10000)/b.Elapsed().Seconds(), "tasks/s")
	}
	b.Run("redis", func(b *testing.B) {
		srv := startServer(b)
		s := open(b, srv.Addr, "")
		defer s.Close()
		run(b, s)
	})
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(b.TempDir())
		must.NoError(b, err)
		defer s.Close()
		run(b, s)
	})
}
