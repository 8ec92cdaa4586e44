// Package godocker reproduces Go-Docker's FairShare policy exactly, so a
// site can move to GoDocker and keep its order: each job gets a score and
// the lowest score runs first, ties broken by job id.
//
//	share = Ww·(1−n(wait)) + Wut·n(user_time) + Wuc·n(user_cpu) + Wur·n(user_ram)
//	      + Wgt·n(proj_time) + Wgc·n(proj_cpu) + Wgr·n(proj_ram)
//	      + Wu·(1−user_prio) + Wg·(1−proj_prio)
//
// n(v) = (v−min)/(max−min) over the pending jobs, or 0.5 when max−min < 1.
// Usage is the sums over the sliding window (run seconds, cores and GB of
// memory asked for by finished jobs); priorities are 0-100 divided by 100;
// the default project has priority 0.5 and the worst (largest) project
// usage of the batch.
package godocker

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/godocker/god/plugins/scheduler"
)

// Weights are the terms' weights, Go-Docker's fairshare_* settings.
type Weights struct {
	WaitingTime     float64
	UserTime        float64
	UserCPU         float64
	UserRAM         float64
	ProjectTime     float64
	ProjectCPU      float64
	ProjectRAM      float64
	UserPriority    float64
	ProjectPriority float64
}

// DefaultWeights are Go-Docker's defaults.
var DefaultWeights = Weights{
	WaitingTime: 0.1, UserTime: 1, UserCPU: 0.2, UserRAM: 0.2,
	ProjectTime: 0.1, ProjectCPU: 0.01, ProjectRAM: 0.01,
	UserPriority: 1, ProjectPriority: 1,
}

// weightKeys name the weights in a scheduler block's config map.
var weightKeys = map[string]func(*Weights) *float64{
	"waiting_time":     func(w *Weights) *float64 { return &w.WaitingTime },
	"user_time":        func(w *Weights) *float64 { return &w.UserTime },
	"user_cpu":         func(w *Weights) *float64 { return &w.UserCPU },
	"user_ram":         func(w *Weights) *float64 { return &w.UserRAM },
	"project_time":     func(w *Weights) *float64 { return &w.ProjectTime },
	"project_cpu":      func(w *Weights) *float64 { return &w.ProjectCPU },
	"project_ram":      func(w *Weights) *float64 { return &w.ProjectRAM },
	"user_priority":    func(w *Weights) *float64 { return &w.UserPriority },
	"project_priority": func(w *Weights) *float64 { return &w.ProjectPriority },
}

// ParseWeights reads weights from a config map over the defaults: keys
// waiting_time, user_time, user_cpu, user_ram, project_time, project_cpu,
// project_ram, user_priority, project_priority; values 0 or more.
func ParseWeights(config map[string]string) (Weights, error) {
	w := DefaultWeights
	for k, v := range config {
		field, ok := weightKeys[k]
		if !ok {
			return w, fmt.Errorf("unknown weight %q; the weights are waiting_time, user_time, user_cpu, user_ram, project_time, project_cpu, project_ram, user_priority and project_priority", k)
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return w, fmt.Errorf("weight %s must be a number, 0 or more; got %q", k, v)
		}
		*field(&w) = f
	}
	return w, nil
}

// DefaultProject is the project every user may use, as the agent names it.
const DefaultProject = "default"

// Scheduler is Go-Docker's FairShare.
type Scheduler struct {
	Weights Weights
}

var _ scheduler.Scheduler = Scheduler{}

// Name implements scheduler.Scheduler.
func (Scheduler) Name() string { return "godocker" }

// term is one usage figure of every job in the batch.
type term struct {
	vals     []float64
	min, max float64
}

func newTerm(n int) *term { return &term{vals: make([]float64, n)} }

// n normalises job i's value over the batch.
func (t *term) n(i int) float64 {
	if t.max-t.min < 1 {
		return 0.5
	}
	return (t.vals[i] - t.min) / (t.max - t.min)
}

func (t *term) bounds(skip func(int) bool) {
	first := true
	for i, v := range t.vals {
		if skip != nil && skip(i) {
			continue
		}
		if first || v < t.min {
			t.min = v
		}
		if first || v > t.max {
			t.max = v
		}
		first = false
	}
}

// Order implements scheduler.Scheduler.
func (s Scheduler) Order(_ context.Context, snap *scheduler.Snapshot) ([]scheduler.Decision, error) {
	w := s.Weights
	if w == (Weights{}) {
		w = DefaultWeights
	}
	jobs := snap.Pending
	n := len(jobs)
	wait, ut, uc, ur, pt, pc, pr := newTerm(n), newTerm(n), newTerm(n), newTerm(n), newTerm(n), newTerm(n), newTerm(n)
	isDefault := func(i int) bool { p := jobs[i].Project; return p == "" || p == DefaultProject }
	for i, j := range jobs {
		wait.vals[i] = snap.Now.Sub(j.Submitted).Seconds()
		u := snap.UserWindow[j.UID]
		ut.vals[i], uc.vals[i], ur.vals[i] = u.Seconds, u.CPU, u.RAMGB
		if !isDefault(i) {
			p := snap.ProjectWindow[j.Project]
			pt.vals[i], pc.vals[i], pr.vals[i] = p.Seconds, p.CPU, p.RAMGB
		}
	}
	for _, t := range []*term{wait, ut, uc, ur} {
		t.bounds(nil)
	}
	// The default project gets the worst project usage of the batch.
	for _, t := range []*term{pt, pc, pr} {
		t.bounds(isDefault)
		if t.min > t.max { // every job is in the default project
			t.min, t.max = 0, 0
		}
		for i := range t.vals {
			if isDefault(i) {
				t.vals[i] = t.max
			}
		}
		t.bounds(nil)
	}
	type scored struct {
		id    int64
		share float64
	}
	out := make([]scored, n)
	for i, j := range jobs {
		uprio := float64(j.Priority) / 100
		pprio := float64(j.ProjectPriority) / 100
		if isDefault(i) {
			pprio = 0.5
		}
		share := w.WaitingTime*(1-wait.n(i)) +
			w.UserTime*ut.n(i) + w.UserCPU*uc.n(i) + w.UserRAM*ur.n(i) +
			w.ProjectTime*pt.n(i) + w.ProjectCPU*pc.n(i) + w.ProjectRAM*pr.n(i) +
			w.UserPriority*(1-uprio) + w.ProjectPriority*(1-pprio)
		out[i] = scored{j.ID, share}
	}
	slices.SortFunc(out, func(a, b scored) int {
		if c := cmp.Compare(a.share, b.share); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	ds := make([]scheduler.Decision, n)
	for i, o := range out {
		ds[i] = scheduler.Decision{JobID: o.id, Reason: "Go-Docker fair share: score " + strconv.FormatFloat(o.share, 'f', 3, 64) + " (lowest first)"}
	}
	return ds, nil
}
