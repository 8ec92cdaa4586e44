package agent

import (
	"strconv"
	"time"

	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/scheduler"
)

// usageWindow counts the core-seconds of finished jobs per user and per
// project in daily buckets, for quotas over a sliding window (Go-Docker's
// user_reset_usage_duration). Rebuilt from the job records at start-up,
// like the fair-share ledger. Callers hold a.mu.
type usageWindow struct {
	span    time.Duration
	buckets map[string]map[int64]*dayUsage // key -> day
}

// dayUsage is what the jobs that ended on one day used: core-seconds (for
// quotas), and run seconds, cores and GB asked for (Go-Docker's fair share).
type dayUsage struct {
	coreSeconds float64
	scheduler.WindowUsage
}

const day = 24 * time.Hour

func newUsageWindow(span time.Duration) *usageWindow {
	return &usageWindow{span: span, buckets: map[string]map[int64]*dayUsage{}}
}

func userKey(uid int) string        { return "u:" + strconv.Itoa(uid) }
func projectKey(name string) string { return "p:" + name }

// charge adds what a finished job used to its owner and project, on the
// day it ended.
func (w *usageWindow) charge(j *job.Job) {
	if j.IsArray() || j.Dates.Started == nil || j.Dates.Ended == nil {
		return
	}
	secs := j.Dates.Ended.Sub(*j.Dates.Started).Seconds()
	if secs <= 0 {
		return
	}
	d := j.Dates.Ended.Unix() / int64(day/time.Second)
	for _, k := range []string{userKey(j.User.UID), projectKey(projectOf(j))} {
		b := w.buckets[k]
		if b == nil {
			b = map[int64]*dayUsage{}
			w.buckets[k] = b
		}
		u := b[d]
		if u == nil {
			u = &dayUsage{}
			b[d] = u
		}
		u.coreSeconds += j.CPU * secs
		u.Seconds += secs
		u.CPU += j.CPU
		u.RAMGB += float64(j.Memory) / 1e9
	}
}

// hours returns the core-hours of key within the window ending at now.
func (w *usageWindow) hours(key string, now time.Time) float64 {
	core, _ := w.sum(key, now)
	return core / 3600
}

// sum adds up key's days within the window ending at now, dropping the
// days that left it.
func (w *usageWindow) sum(key string, now time.Time) (coreSeconds float64, u scheduler.WindowUsage) {
	b := w.buckets[key]
	first := now.Add(-w.span).Unix() / int64(day/time.Second)
	for d, v := range b {
		if d <= first {
			delete(b, d)
			continue
		}
		coreSeconds += v.coreSeconds
		u.Seconds += v.Seconds
		u.CPU += v.CPU
		u.RAMGB += v.RAMGB
	}
	return coreSeconds, u
}

// fill gives a snapshot the window usage of its pending jobs' owners and
// projects.
func (w *usageWindow) fill(snap *scheduler.Snapshot, now time.Time) {
	snap.UserWindow = map[int]scheduler.WindowUsage{}
	snap.ProjectWindow = map[string]scheduler.WindowUsage{}
	for _, j := range snap.Pending {
		if _, ok := snap.UserWindow[j.UID]; !ok {
			_, snap.UserWindow[j.UID] = w.sum(userKey(j.UID), now)
		}
		if _, ok := snap.ProjectWindow[j.Project]; !ok {
			_, snap.ProjectWindow[j.Project] = w.sum(projectKey(j.Project), now)
		}
	}
}
