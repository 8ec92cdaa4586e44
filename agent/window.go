package agent

import (
	"strconv"
	"time"

	"github.com/godocker/god/job"
)

// usageWindow counts the core-seconds of finished jobs per user and per
// project in daily buckets, for quotas over a sliding window (Go-Docker's
// user_reset_usage_duration). Rebuilt from the job records at start-up,
// like the fair-share ledger. Callers hold a.mu.
type usageWindow struct {
	span    time.Duration
	buckets map[string]map[int64]float64 // key -> day -> core-seconds
}

const day = 24 * time.Hour

func newUsageWindow(span time.Duration) *usageWindow {
	return &usageWindow{span: span, buckets: map[string]map[int64]float64{}}
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
			b = map[int64]float64{}
			w.buckets[k] = b
		}
		b[d] += j.CPU * secs
	}
}

// hours returns the core-hours of key within the window ending at now, and
// drops the buckets that left it.
func (w *usageWindow) hours(key string, now time.Time) float64 {
	b := w.buckets[key]
	first := now.Add(-w.span).Unix() / int64(day/time.Second)
	var sum float64
	for d, v := range b {
		if d <= first {
			delete(b, d)
			continue
		}
		sum += v
	}
	return sum / 3600
}
