package godocker

import (
	"context"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/scheduler"
)

// TestOrder_HandComputed checks the score term by term on a batch worked
// out by hand with Go-Docker's default weights.
//
//	        wait  user time/cpu/ram  prio   1-n(wait)  n(ut,uc,ur)  proj  prio terms  share
//	job 1   100s  0, 0, 0            50     0          0, 0, 0      0.5   0.5 + 0.5   0.06+1.00 = 1.06
//	job 2    50s  3600, 4, 8         50     0.5        1, 1, 1      0.5   0.5 + 0.5   0.05+1+0.2+0.2+0.06+1 = 2.51
//	job 3     0s  0, 0, 0            100    1          0, 0, 0      0.5   0   + 0.5   0.1+0.06+0.5 = 0.66
//
// (Every job is in the default project: project usage is the batch's
// worst, the same for all, so n = 0.5 and the three project terms add
// 0.5 x (0.1+0.01+0.01) = 0.06.)
func TestOrder_HandComputed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	snap := &scheduler.Snapshot{
		Now: now,
		Pending: []scheduler.Job{
			{ID: 1, UID: 1, Submitted: now.Add(-100 * time.Second), Priority: 50, ProjectPriority: 50},
			{ID: 2, UID: 2, Submitted: now.Add(-50 * time.Second), Priority: 50, ProjectPriority: 50},
			{ID: 3, UID: 3, Submitted: now, Priority: 100, ProjectPriority: 50},
		},
		UserWindow: map[int]scheduler.WindowUsage{2: {Seconds: 3600, CPU: 4, RAMGB: 8}},
	}
	ds, err := Scheduler{}.Order(context.Background(), snap)
	must.NoError(t, err)
	must.SliceLen(t, 3, ds)
	must.Eq(t, []int64{3, 1, 2}, []int64{ds[0].JobID, ds[1].JobID, ds[2].JobID})
	must.StrContains(t, ds[0].Reason, "score 0.660")
	must.StrContains(t, ds[1].Reason, "score 1.060")
	must.StrContains(t, ds[2].Reason, "score 2.510")
}

// TestOrder_Projects: the default project has priority 0.5 and the worst
// project usage of the batch; a project's own priority counts.
func TestOrder_Projects(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	snap := &scheduler.Snapshot{
		Now: now,
		Pending: []scheduler.Job{
			{ID: 1, UID: 1, Submitted: now, Priority: 50, Project: "default", ProjectPriority: 90},
			{ID: 2, UID: 1, Submitted: now, Priority: 50, Project: "busy", ProjectPriority: 50},
			{ID: 3, UID: 1, Submitted: now, Priority: 50, Project: "idle", ProjectPriority: 50},
		},
		ProjectWindow: map[string]scheduler.WindowUsage{"busy": {Seconds: 7200, CPU: 10, RAMGB: 20}},
	}
	ds, err := Scheduler{}.Order(context.Background(), snap)
	must.NoError(t, err)
	// idle: project terms 0; busy: 0.12; default: the worst (busy's), 0.12,
	// and priority 0.5 whatever it says. Wait and user terms are equal
	// (n = 0.5: 0.05 + 0.7 = 0.75 each), user priority 0.5 each.
	must.Eq(t, []int64{3, 1, 2}, []int64{ds[0].JobID, ds[1].JobID, ds[2].JobID})
	must.StrContains(t, ds[0].Reason, "score 1.750")
	must.StrContains(t, ds[1].Reason, "score 1.870")
	must.StrContains(t, ds[2].Reason, "score 1.870")
}

// TestOrder_SmallSpread: a spread under 1 normalises to 0.5, as Go-Docker
// did, so half a second of waiting does not reorder jobs.
func TestOrder_SmallSpread(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	snap := &scheduler.Snapshot{Now: now, Pending: []scheduler.Job{
		{ID: 2, UID: 1, Submitted: now.Add(-500 * time.Millisecond), Priority: 50, ProjectPriority: 50},
		{ID: 1, UID: 1, Submitted: now, Priority: 50, ProjectPriority: 50},
	}}
	ds, err := Scheduler{}.Order(context.Background(), snap)
	must.NoError(t, err)
	must.Eq(t, int64(1), ds[0].JobID, must.Sprint("equal scores: by id"))
}

func TestParseWeights(t *testing.T) {
	w, err := ParseWeights(map[string]string{"user_time": "2", "waiting_time": "0"})
	must.NoError(t, err)
	must.Eq(t, 2.0, w.UserTime)
	must.Eq(t, 0.0, w.WaitingTime)
	must.Eq(t, DefaultWeights.UserCPU, w.UserCPU)
	_, err = ParseWeights(map[string]string{"user_tim": "2"})
	must.ErrorContains(t, err, `unknown weight "user_tim"`)
	_, err = ParseWeights(map[string]string{"user_time": "-1"})
	must.ErrorContains(t, err, "weight user_time must be a number, 0 or more")
}
