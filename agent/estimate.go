package agent

import (
	"container/heap"
	"context"
	"time"

	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/executor"
)

// runtimes learns how long jobs run, per user and site-wide, to estimate
// start times: a moving average of finished jobs' run times. Callers hold
// a.mu.
type runtimes struct {
	byUID map[int]float64 // seconds
	site  float64
}

// runtimeWeight is how much one finished job moves the average.
const runtimeWeight = 0.2

// defaultRuntime is assumed before any job has finished.
const defaultRuntime = time.Hour

func (r *runtimes) observe(j *job.Job) {
	if j.IsArray() || j.Dates.Started == nil || j.Dates.Ended == nil {
		return
	}
	secs := j.Dates.Ended.Sub(*j.Dates.Started).Seconds()
	if secs < 0 {
		return
	}
	avg := func(old float64, seen bool) float64 {
		if !seen {
			return secs
		}
		return old + runtimeWeight*(secs-old)
	}
	old, seen := r.byUID[j.User.UID]
	r.byUID[j.User.UID] = avg(old, seen)
	r.site = avg(r.site, r.site > 0)
}

// estimate is how long j is expected to run: its owner's average, else the
// site's, else an hour; never past its max lifespan, which kills it.
func (r *runtimes) estimate(j *job.Job) time.Duration {
	secs, ok := r.byUID[j.User.UID]
	if !ok {
		secs = r.site
	}
	d := time.Duration(secs * float64(time.Second))
	if d <= 0 {
		d = defaultRuntime
	}
	if j.MaxLifespan > 0 && d > j.MaxLifespan {
		d = j.MaxLifespan
	}
	return max(d, time.Second)
}

// release is resources a running or simulated job gives back at a time.
type release struct {
	at  time.Time
	res executor.Capacity
}

type releases []release

func (h releases) Len() int           { return len(h) }
func (h releases) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h releases) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *releases) Push(x any)        { *h = append(*h, x.(release)) }
func (h *releases) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// estimateStarts simulates the queue in order: running jobs end after
// their expected run time, and each pending job starts as soon as what it
// asks for is free, no earlier than the job before it (the scheduler does
// not let a job overtake the head that waits for room). Held jobs, jobs
// waiting for dependencies and jobs a quota holds back get no estimate and
// do not hold others up.
func (a *Agent) estimateStarts(ctx context.Context, order []*job.Job, capacity executor.Capacity, now time.Time) map[int64]time.Time {
	pq := a.projectQuotas(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	free := executor.Capacity{CPU: capacity.CPU - a.used.CPU, Memory: capacity.Memory - a.used.Memory, GPUs: capacity.GPUs - a.used.GPUs}
	var h releases
	for _, r := range a.reserved {
		end := r.started.Add(a.runtimes.estimate(&job.Job{User: r.owner, MaxLifespan: r.lifespan}))
		if end.Before(now) {
			end = now // running past its estimate: any moment now
		}
		h = append(h, release{at: end, res: r.Capacity})
	}
	heap.Init(&h)
	out := make(map[int64]time.Time, len(order))
	t := now
	for _, j := range order {
		if j.Held || (len(j.Deps) > 0 && !j.DepsMet) || j.CPU > capacity.CPU+1e-9 || j.Memory > capacity.Memory || j.GPU > capacity.GPUs {
			continue
		}
		if r, _ := a.quotaReasonLocked(j, pq, now); r != "" {
			continue
		}
		for (free.CPU+1e-9 < j.CPU || free.Memory < j.Memory || free.GPUs < j.GPU) && h.Len() > 0 {
			r := heap.Pop(&h).(release)
			if r.at.After(t) {
				t = r.at
			}
			free.CPU += r.res.CPU
			free.Memory += r.res.Memory
			free.GPUs += r.res.GPUs
		}
		out[j.ID] = t
		free.CPU -= j.CPU
		free.Memory -= j.Memory
		free.GPUs -= j.GPU
		heap.Push(&h, release{at: t.Add(a.runtimes.estimate(j)), res: executor.Capacity{CPU: j.CPU, Memory: j.Memory, GPUs: j.GPU}})
	}
	return out
}
