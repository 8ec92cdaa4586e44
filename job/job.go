// Package job holds the job record that GoDocker stores and moves through its
// states, and the rules of those moves. The wire shape is api.Job; this type
// adds what only the agent needs.
package job

import (
	"strconv"
	"time"

	"github.com/godocker/god/api"
)

// Job is a stored job.
type Job struct {
	ID     int64       `json:"id"`
	Spec   api.JobSpec `json:"spec"`
	User   api.User    `json:"user"`
	Status api.Status  `json:"status"`
	Dates  api.Dates   `json:"dates"`
	// CPU (cores) and Memory (bytes) are the resolved resources: the spec's
	// values or the agent's defaults. GPU is the number of GPUs asked for.
	CPU    float64 `json:"cpu"`
	Memory int64   `json:"memory"`
	GPU    int     `json:"gpu,omitempty"`
	// JobDir is the host path of the job directory, mounted at /mnt/go-docker.
	JobDir    string         `json:"job_dir,omitempty"`
	Container *api.Container `json:"container,omitempty"`
	// KillRequested survives restarts so that a kill asked for before a crash
	// is carried out after it.
	KillRequested bool `json:"kill_requested,omitempty"`

	// ParentID is the array job a task belongs to (0: none); TaskID is the
	// task's index in the array.
	ParentID int64 `json:"parent_id,omitempty"`
	TaskID   int   `json:"task_id,omitempty"`
	// Array describes an array parent's range (nil for other jobs).
	Array *Array `json:"array,omitempty"`
	// Held jobs wait until released; HeldBy names who held them.
	Held   bool   `json:"held,omitempty"`
	HeldBy string `json:"held_by,omitempty"`
	// Deps are the jobs this one waits for; DepsMet is set once they let it
	// start, so a rerun (reschedule, retry) does not wait on them again.
	Deps    []Dep `json:"deps,omitempty"`
	DepsMet bool  `json:"deps_met,omitempty"`
	// MaxLifespan is how long the job may run before it is killed.
	MaxLifespan time.Duration `json:"max_lifespan,omitempty"`
	// KillReason says why a kill was requested, when not by the user.
	KillReason string `json:"kill_reason,omitempty"`
	// KillTimeout is how long a stop lets the job end after SIGTERM (0:
	// SIGKILL at once, as for jobs stored before kill timeouts existed).
	// KillDeadline is when a stop requested with a timeout turns into
	// SIGKILL, kept so that an agent restarted meanwhile still escalates;
	// KillForced is set once SIGKILL was sent.
	KillTimeout  time.Duration `json:"kill_timeout,omitempty"`
	KillDeadline *time.Time    `json:"kill_deadline,omitempty"`
	KillForced   bool          `json:"kill_forced,omitempty"`
	// RescheduleRequested turns the coming end of the container into a
	// return to pending; Reschedules counts those returns.
	RescheduleRequested bool `json:"reschedule_requested,omitempty"`
	Reschedules         int  `json:"reschedules,omitempty"`
	// Retries counts reruns after infrastructure failures, on FailedNodes.
	Retries     int      `json:"retries,omitempty"`
	FailedNodes []string `json:"failed_nodes,omitempty"`
	// SubmitKey is the submitter's idempotency key, scoped to them
	// ("<uid>:<key>"): the store keeps one job per key, so a submit retried
	// after a lost answer returns the job it created instead of a second.
	SubmitKey string `json:"submit_key,omitempty"`
	// Version increases with every stored change; updates compare it so that
	// two writers never overwrite each other (optimistic concurrency).
	Version int64 `json:"-"`
}

// Array is the range of an array job and its throttle.
type Array struct {
	First    int `json:"first"`
	Last     int `json:"last"`
	Step     int `json:"step"`
	Throttle int `json:"throttle,omitempty"`
}

// Dep is one dependency: a job id and the kind of end it waits for
// (afterany, afterok, afternotok, after).
type Dep struct {
	Kind  string `json:"kind"`
	JobID int64  `json:"job_id"`
}

// IsArray reports whether the job is an array parent (it runs no container).
func (j *Job) IsArray() bool { return j.Array != nil }

// Pending reports whether the job waits for dispatch.
func (j *Job) Pending() bool { return j.Status.Primary == api.StatePending }

// Running reports whether the job has a container.
func (j *Job) Running() bool { return j.Status.Primary == api.StateRunning }

// Over reports whether the job has ended (over or archived).
func (j *Job) Over() bool {
	return j.Status.Primary == api.StateOver || j.Status.Primary == api.StateArchived
}

// Clone returns a deep enough copy to mutate and store without touching j.
func (j *Job) Clone() *Job {
	c := *j
	if j.Status.ExitCode != nil {
		c.Status.ExitCode = new(*j.Status.ExitCode)
	}
	if j.Container != nil {
		c.Container = new(*j.Container)
	}
	return &c
}

// MarkRunning records a successful dispatch.
func (j *Job) MarkRunning(c api.Container, started time.Time) {
	j.Status = api.Status{Primary: api.StateRunning}
	if j.KillRequested {
		j.Status.Secondary = api.SecondaryKillRequested
	}
	j.Container = &c
	j.Dates.Started = &started
	j.Held, j.HeldBy = false, ""
	j.DepsMet = true
}

// MarkPending puts a job that ran back in the queue, to run again with
// the same id: a reschedule or a retry.
func (j *Job) MarkPending(secondary, reason string) {
	j.Status = api.Status{Primary: api.StatePending, Secondary: secondary, Reason: reason}
	j.Container = nil
	j.Dates.Started, j.Dates.Ended = nil, nil
	j.RescheduleRequested = false
}

// MarkOver ends the job. A job whose kill was requested ends as killed,
// with exit code 137 as in Go-Docker unless it ended by itself in time.
func (j *Job) MarkOver(exitCode *int, secondary, reason string, ended time.Time) {
	if j.KillRequested {
		// A job that ended by itself within its kill timeout (it caught
		// SIGTERM and exited) keeps its exit code; one that a signal ended
		// (128 + the signal) or SIGKILL did is Go-Docker's 137.
		graceful := exitCode != nil && *exitCode < 128 && j.KillDeadline != nil && !j.KillForced
		if !graceful {
			exitCode = new(api.ExitKilled)
		}
		secondary = api.SecondaryKilled
		if reason == "" {
			reason = j.KillReason
		}
		if reason == "" {
			reason = "stopped by request"
		}
	}
	j.Status = api.Status{Primary: api.StateOver, Secondary: secondary, Reason: reason, ExitCode: exitCode}
	j.Dates.Ended = &ended
	j.Held, j.HeldBy = false, ""
	j.RescheduleRequested = false
}

// API returns the wire form of the job.
func (j *Job) API() *api.Job {
	var deps []string
	for _, d := range j.Deps {
		deps = append(deps, d.Kind+":"+strconv.FormatInt(d.JobID, 10))
	}
	var taskID *int
	if j.ParentID != 0 {
		taskID = new(j.TaskID)
	}
	lifespan := ""
	if j.MaxLifespan > 0 {
		lifespan = j.MaxLifespan.String()
	}
	return &api.Job{
		ID:          j.ID,
		Spec:        j.Spec,
		User:        j.User,
		Status:      j.Status,
		Dates:       j.Dates,
		CPU:         j.CPU,
		Memory:      j.Memory,
		GPU:         j.GPU,
		JobDir:      j.JobDir,
		Container:   j.Container,
		Version:     j.Version,
		ParentID:    j.ParentID,
		TaskID:      taskID,
		Held:        j.Held,
		HeldBy:      j.HeldBy,
		DependsOn:   deps,
		MaxLifespan: lifespan,
		KillTimeout: j.KillTimeout.String(),
		Reschedules: j.Reschedules,
		Retries:     j.Retries,
		FailedNodes: j.FailedNodes,
	}
}
