package proto

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	gproto "google.golang.org/protobuf/proto"

	"github.com/godocker/god/plugins/scheduler"
)

// benchPending is 100,000 jobs of 1,000 users in 100 projects, shuffled.
func benchPending() *scheduler.Snapshot {
	r := rand.New(rand.NewPCG(1, 2))
	s := &scheduler.Snapshot{Now: time.Now()}
	for i := range 100_000 {
		u := r.IntN(1000)
		s.Pending = append(s.Pending, scheduler.Job{
			ID: int64(1 + i), UID: 10000 + u, User: fmt.Sprintf("user%03d", u),
			Submitted: s.Now.Add(-time.Duration(i) * time.Second),
			CPU:       float64(1 + r.IntN(8)), Memory: int64(1+r.IntN(16)) << 30,
			Project: fmt.Sprintf("project-%02d", u%100), Group: "lab", Priority: 50,
		})
	}
	return s
}

// The halves of a snapshot's trip, each side's share:
//
//	go test -run '^$' -bench . -benchmem ./plugins/scheduler/proto/
func BenchmarkEncodeSnapshot(b *testing.B) {
	s := benchPending()
	for b.Loop() {
		if _, err := gproto.Marshal(EncodeSnapshot(s)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSnapshot(b *testing.B) {
	wire, err := gproto.Marshal(EncodeSnapshot(benchPending()))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var m Snapshot
		if err := gproto.Unmarshal(wire, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeSnapshot(&m); err != nil {
			b.Fatal(err)
		}
	}
}
