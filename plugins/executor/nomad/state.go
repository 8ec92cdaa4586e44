package nomad

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/godocker/god/plugins/executor"
)

// stateOf maps what Nomad knows of a job to the executor's state. From the
// agent's side a registered job is running until it ends: waiting to be
// placed, pulling its image and running are all Running. ID and Name are
// the Nomad job id (stable across its allocations); the allocation is in
// Links.
func (e *Executor) stateOf(ctx context.Context, v *view) (*executor.State, error) {
	st := &executor.State{JobID: v.jobID, ID: v.nomadID, Name: v.nomadID, Owner: v.owner, Legacy: v.legacy}
	if reason, ok := v.requeued(); ok {
		st.Requeue, st.Error = true, reason
		st.Links = e.links(v.nomadID, "")
		return st, nil
	}
	if len(v.allocs) == 0 {
		st.Links = e.links(v.nomadID, "")
		return e.unplaced(ctx, v, st)
	}
	a := v.allocs[0] // at most one: Nomad never reschedules these jobs
	st.Links = e.links(v.nomadID, a.ID)
	st.Node = a.NodeName
	ts := a.TaskStates[taskName]
	if ts != nil {
		st.StartedAt = ts.StartedAt
		st.FinishedAt = ts.FinishedAt
		if t := lastEvent(ts, api.TaskTerminated); t != nil {
			st.ExitCode = t.ExitCode
			st.OOMKilled = t.Details["oom_killed"] == "true"
		}
	}
	switch a.ClientStatus {
	case api.AllocClientStatusPending, api.AllocClientStatusRunning, api.AllocClientStatusUnknown:
		// Unknown: the node is disconnected; the task may still run, and
		// Nomad says lost once it gives up on the node.
		st.Running = true
		st.FinishedAt = time.Time{}
		return st, nil
	case api.AllocClientStatusLost:
		st.Error = fmt.Sprintf("Nomad lost node %s while the job ran there (%s); its exit code is unknown", a.NodeName, orDefault(a.ClientDescription, "allocation lost"))
	default: // complete, failed
		st.Error = taskFailure(a, ts)
		if st.Error == "" && (ts == nil || lastEvent(ts, api.TaskTerminated) == nil) {
			// Stopped before its task ran: Nomad has no exit code. Report
			// a kill's (128+9), not a success.
			st.ExitCode = 137
		}
	}
	if st.FinishedAt.IsZero() && a.ModifyTime > 0 {
		st.FinishedAt = time.Unix(0, a.ModifyTime)
	}
	return st, nil
}

// taskFailure explains a task that ended without a plain exit: one that
// could not start (a driver error such as an image that cannot be pulled:
// that will not change by retrying), or that Nomad evicted. A plain exit,
// zero or not, and a kill are no failure of the engine: "".
func taskFailure(a *api.AllocationListStub, ts *api.TaskState) string {
	if ts != nil {
		for _, ev := range slices.Backward(ts.Events) {
			switch ev.Type {
			case api.TaskDriverFailure:
				return "the container could not start on " + a.NodeName + ": " + firstOf(ev.DriverError, ev.DisplayMessage, ev.Message, "driver failure")
			case api.TaskSetupFailure:
				return "Nomad could not set up the task on " + a.NodeName + ": " + firstOf(ev.SetupError, ev.DisplayMessage, ev.Message, "setup failure")
			case api.TaskFailedValidation:
				return "Nomad refused the task: " + firstOf(ev.ValidationError, ev.DisplayMessage, ev.Message, "validation failure")
			case api.TaskTerminated, api.TaskKilled:
				return ""
			}
		}
	}
	if a.DesiredStatus == api.AllocDesiredStatusEvict {
		return "Nomad evicted the job from node " + a.NodeName + ": " + orDefault(a.DesiredDescription, "evicted")
	}
	if a.ClientStatus == api.AllocClientStatusFailed {
		return "the task failed on node " + a.NodeName + ": " + orDefault(a.ClientDescription, "no reason given")
	}
	return ""
}

func lastEvent(ts *api.TaskState, typ string) *api.TaskEvent {
	for _, ev := range slices.Backward(ts.Events) {
		if ev.Type == typ {
			return ev
		}
	}
	return nil
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func orDefault(s, def string) string { return firstOf(s, def) }

// unplaced is the state of a job with no allocation: withdrawn (Requeue),
// stopped before placement, or waiting for Nomad to place it. A job Nomad
// failed to place for longer than the placement timeout is withdrawn here.
func (e *Executor) unplaced(ctx context.Context, v *view, st *executor.State) (*executor.State, error) {
	if v.stopped() {
		st.Error = "stopped before Nomad placed it"
		return st, nil
	}
	st.Running = true
	evals, _, err := e.cli.Jobs().Evaluations(v.nomadID, queryOpts(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading evaluations of Nomad job %s: %w", v.nomadID, err)
	}
	failed := latestFailedPlacement(evals)
	if failed == nil {
		return st, nil // not evaluated yet
	}
	if v.submitTime == 0 || e.now().Sub(time.Unix(0, v.submitTime)) < e.cfg.PlacementTimeout {
		return st, nil
	}
	reason := fmt.Sprintf("Nomad could not place the job within %v: %s", e.cfg.PlacementTimeout, placementFailure(failed))
	if err := e.withdraw(ctx, v, reason); err != nil {
		return nil, err
	}
	st.Running, st.Requeue, st.Error = false, true, reason
	return st, nil
}

// latestFailedPlacement is the newest evaluation that could not place the
// task group, nil if the newest attempt placed it or none ran yet.
func latestFailedPlacement(evals []*api.Evaluation) *api.Evaluation {
	var newest *api.Evaluation
	for _, ev := range evals {
		if ev.Status == "blocked" || ev.Status == "canceled" {
			continue // a blocked eval waits for capacity: it has no result yet
		}
		if newest == nil || ev.CreateIndex > newest.CreateIndex {
			newest = ev
		}
	}
	if newest == nil || newest.FailedTGAllocs[groupName] == nil {
		return nil
	}
	return newest
}

// placementFailure is Nomad's placement metric as one sentence, as `nomad
// job status` shows it: what filtered the nodes out and what they lacked.
func placementFailure(ev *api.Evaluation) string {
	m := ev.FailedTGAllocs[groupName]
	var parts []string
	if m.NodesEvaluated == 0 {
		parts = append(parts, "no node was eligible")
	}
	for _, dc := range slices.Sorted(maps.Keys(m.NodesAvailable)) {
		if m.NodesAvailable[dc] == 0 {
			parts = append(parts, fmt.Sprintf("no node is available in datacenter %q", dc))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(m.ClassFiltered)) {
		parts = append(parts, fmt.Sprintf("class %q: %d node(s) excluded by filter", c, m.ClassFiltered[c]))
	}
	for _, c := range slices.Sorted(maps.Keys(m.ConstraintFiltered)) {
		parts = append(parts, fmt.Sprintf("constraint %q: %d node(s) excluded", c, m.ConstraintFiltered[c]))
	}
	for _, d := range slices.Sorted(maps.Keys(m.DimensionExhausted)) {
		parts = append(parts, fmt.Sprintf("%s exhausted on %d node(s)", d, m.DimensionExhausted[d]))
	}
	if m.NodesExhausted > 0 && len(m.DimensionExhausted) == 0 {
		parts = append(parts, fmt.Sprintf("resources exhausted on %d node(s)", m.NodesExhausted))
	}
	for _, q := range m.QuotaExhausted {
		parts = append(parts, fmt.Sprintf("quota limit reached: %s", q))
	}
	if len(parts) == 0 {
		return "no reason given by Nomad"
	}
	return strings.Join(parts, "; ")
}

// withdraw stops a job that was never placed, keeping the reason in its
// meta, in one write checked against the job's modify index as the view
// saw it (so a job registered again meanwhile, by another agent, is left
// alone). Should Nomad place it in the instant between the read and the
// write, that allocation is stopped with it and the job is still requeued.
func (e *Executor) withdraw(ctx context.Context, v *view, reason string) error {
	job, _, err := e.cli.Jobs().Info(v.nomadID, queryOpts(ctx))
	if err != nil {
		return fmt.Errorf("reading Nomad job %s to withdraw it: %w", v.nomadID, err)
	}
	job.Stop = new(true)
	if job.Meta == nil {
		job.Meta = map[string]string{}
	}
	job.Meta[MetaRequeue] = reason
	_, _, err = e.cli.Jobs().RegisterOpts(job, &api.RegisterOptions{EnforceIndex: true, ModifyIndex: v.modifyIndex}, writeOpts(ctx))
	if err != nil {
		return fmt.Errorf("withdrawing unplaced Nomad job %s: %w", v.nomadID, err)
	}
	return nil
}
