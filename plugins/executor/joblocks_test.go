package executor

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// One job's holders never overlap; other jobs do not wait for it; the
// table empties once nobody holds or waits.
func TestJobLocks(t *testing.T) {
	var l JobLocks
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			defer l.Lock(7)()
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
		})
	}
	unlock := l.Lock(8)
	done := make(chan struct{})
	go func() { defer l.Lock(9)(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("job 9 waited for job 8's lock")
	}
	unlock()
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders of job 7's lock at once", most.Load())
	}
	if len(l.m) != 0 {
		t.Fatalf("%d locks left in the table", len(l.m))
	}
}
