package executor

import "sync"

// JobLocks serializes work on one job at a time within a process (an
// executor's concurrent Start calls for the same job, say), while work on
// different jobs goes on in parallel. The zero value is ready to use.
type JobLocks struct {
	mu sync.Mutex
	m  map[int64]*jobLock
}

type jobLock struct {
	sync.Mutex
	users int
}

// Lock waits until no one else holds the job's lock, takes it, and returns
// the function that releases it.
func (l *JobLocks) Lock(jobID int64) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[int64]*jobLock{}
	}
	j := l.m[jobID]
	if j == nil {
		j = &jobLock{}
		l.m[jobID] = j
	}
	j.users++
	l.mu.Unlock()
	j.Lock()
	return func() {
		j.Unlock()
		l.mu.Lock()
		if j.users--; j.users == 0 {
			delete(l.m, jobID)
		}
		l.mu.Unlock()
	}
}
