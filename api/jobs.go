package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Job states (Go-Docker compatible). A job is pending until the scheduler
// dispatches it, running while its container runs, over once it ended, and
// archived when its directory has been removed.
const (
	StatePending  = "pending"
	StateRunning  = "running"
	StateOver     = "over"
	StateArchived = "archived"
)

// Secondary statuses that clients may test for.
const (
	SecondaryKillRequested = "kill requested"
	SecondaryKilled        = "killed"
	SecondaryFailed        = "failed"
	SecondaryLost          = "lost"
	SecondaryHeld          = "held"
	SecondarySuspended     = "suspended"
	SecondaryDependency    = "dependency never satisfied"
	SecondaryWaiting       = "waiting for dependencies"
	SecondaryRescheduled   = "rescheduled"
	SecondaryRescheduling  = "reschedule requested"
	// SecondaryQuotaReached ends a job whose owner or project is past a
	// cpu_hours quota, with quota.when_exceeded = "end" (Go-Docker's way).
	SecondaryQuotaReached = "quota reached"
)

// ExitKilled is the exit code of a killed job, as Go-Docker reported it.
const ExitKilled = 137

// JobSpec is what a user submits: the HCL job spec decodes into it and it is
// the JSON body of POST /v1/jobs. Exactly one of Command and Script is set.
type JobSpec struct {
	Name        string            `json:"name" hcl:"name,label"`
	Description string            `json:"description,omitempty" hcl:"description,optional"`
	Image       string            `json:"image,omitempty" hcl:"image,optional"`
	Command     string            `json:"command,omitempty" hcl:"command,optional"`
	Script      string            `json:"script,omitempty" hcl:"script,optional"`
	Resources   *Resources        `json:"resources,omitempty" hcl:"resources,block"`
	Volumes     []string          `json:"volumes,omitempty" hcl:"volumes,optional"`
	Env         map[string]string `json:"env,omitempty" hcl:"env,optional"`
	Root        bool              `json:"root,omitempty" hcl:"root,optional"`
	Tags        []string          `json:"tags,omitempty" hcl:"tags,optional"`
	// Project the job counts for (its priority, quotas and, with the
	// site's share_project_jobs, who else may manage it); empty means
	// "default", which every user may use.
	Project string `json:"project,omitempty" hcl:"project,optional"`

	// Array makes the job an array of tasks: "start:end[:step]", or "N"
	// for 1:N. The parent runs no container; each task runs the script
	// with GODOCKER_TASK_ID set.
	Array string `json:"array,omitempty" hcl:"array,optional"`
	// Throttle caps how many tasks of the array run at once (0: no cap).
	Throttle int `json:"throttle,omitempty" hcl:"throttle,optional"`
	// DependsOn lists jobs this one waits for: "ID" or "afterany:ID" (any
	// end), "afterok:ID" (exit 0), "afternotok:ID" (failed or killed),
	// "after:ID" (started).
	DependsOn []string `json:"depends_on,omitempty" hcl:"depends_on,optional"`
	// Hold submits the job held: it waits until released.
	Hold bool `json:"hold,omitempty" hcl:"hold,optional"`
	// MaxLifespan kills the job when it has run this long ("90m", "12h",
	// "7d"); empty means the agent's default.
	MaxLifespan string `json:"max_lifespan,omitempty" hcl:"max_lifespan,optional"`
	// Retries is how many times the job is run again after an
	// infrastructure failure (its container lost by the engine), never
	// after a non-zero exit; capped by the agent's failure_policy.
	Retries int `json:"retries,omitempty" hcl:"retries,optional"`
	// KillTimeout is how long a stopped job may take to end after SIGTERM
	// before SIGKILL ("30s", "2m"; "0s": SIGKILL at once); empty means the
	// agent's defaults.kill_timeout. At most the agent's max_kill_timeout.
	KillTimeout string `json:"kill_timeout,omitempty" hcl:"kill_timeout,optional"`
}

// Resources a job asks for. CPU is in cores (fractions allowed); Memory is a
// size such as "512MiB" or "2GiB" (binary units: "2G" and "2GB" mean 2 GiB too);
// GPU is a number of whole GPUs (0: none).
type Resources struct {
	CPU    float64 `json:"cpu,omitempty" hcl:"cpu,optional"`
	Memory string  `json:"memory,omitempty" hcl:"memory,optional"`
	GPU    int     `json:"gpu,omitempty" hcl:"gpu,optional"`
}

// SubmitResponse answers POST /v1/jobs. Msg keeps Go-Docker's wording.
type SubmitResponse struct {
	ID  int64  `json:"id"`
	Msg string `json:"msg"`
}

// Status of a job: the primary state, a secondary status, a reason and the
// exit code once known (Go-Docker field names).
type Status struct {
	Primary   string `json:"primary"`
	Secondary string `json:"secondary,omitempty"`
	Reason    string `json:"reason,omitempty"`
	ExitCode  *int   `json:"exitcode,omitempty"`
}

// User is the identity a job runs as.
type User struct {
	Name   string `json:"name"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Groups []int  `json:"groups,omitempty"`
	Home   string `json:"home,omitempty"`
}

// Dates of a job's life; zero values are omitted.
type Dates struct {
	Submitted time.Time  `json:"submitted"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
}

// Container describes where a running or finished job ran.
type Container struct {
	Executor string `json:"executor"`
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Node     string `json:"node,omitempty"`
	// Links are the engine's own references (a Nomad job and allocation,
	// a link to the Nomad UI...).
	Links map[string]string `json:"links,omitempty"`
}

// Job is a job as the API shows it.
type Job struct {
	ID        int64      `json:"id"`
	Spec      JobSpec    `json:"spec"`
	User      User       `json:"user"`
	Status    Status     `json:"status"`
	Dates     Dates      `json:"dates"`
	CPU       float64    `json:"cpu"`
	Memory    int64      `json:"memory"`
	GPU       int        `json:"gpu,omitempty"`
	JobDir    string     `json:"job_dir,omitempty"`
	Container *Container `json:"container,omitempty"`
	Version   int64      `json:"version"`

	// ParentID and TaskID place an array task in its array.
	ParentID int64 `json:"parent_id,omitempty"`
	TaskID   *int  `json:"task_id,omitempty"`
	// Array summarises an array parent's tasks.
	Array *ArraySummary `json:"array,omitempty"`
	// Held jobs wait until released.
	Held   bool   `json:"held,omitempty"`
	HeldBy string `json:"held_by,omitempty"`
	// DependsOn lists what the job waits for, as "kind:id".
	DependsOn []string `json:"depends_on,omitempty"`
	// MaxLifespan is how long the job may run, e.g. "168h0m0s".
	MaxLifespan string `json:"max_lifespan,omitempty"`
	// KillTimeout is how long a stop waits after SIGTERM before SIGKILL.
	KillTimeout string `json:"kill_timeout,omitempty"`
	// Reschedules counts the times the job was put back to pending by
	// request; Retries the reruns after infrastructure failures, on the
	// nodes listed in FailedNodes.
	Reschedules int      `json:"reschedules,omitempty"`
	Retries     int      `json:"retries,omitempty"`
	FailedNodes []string `json:"failed_nodes,omitempty"`
}

// ArchiveRequest selects finished jobs to archive (POST /v1/jobs/archive):
// their directories are removed and, with Purge, their records too.
type ArchiveRequest struct {
	// OlderThan: jobs over for at least this long ("30d", "12h").
	OlderThan string `json:"older_than"`
	// Tag restricts to jobs with this tag.
	Tag   string `json:"tag,omitempty"`
	Purge bool   `json:"purge,omitempty"`
}

// ArchiveResponse counts what an archive request did.
type ArchiveResponse struct {
	Archived int `json:"archived"`
	Purged   int `json:"purged"`
}

// ArraySummary counts an array's tasks by state and, for those over, by
// exit code ("never ran" for tasks without one; killed tasks count as 137).
type ArraySummary struct {
	First    int `json:"first"`
	Last     int `json:"last"`
	Step     int `json:"step"`
	Throttle int `json:"throttle,omitempty"`
	Tasks    int `json:"tasks"`
	// FirstTaskID and LastTaskID bound the job ids of the tasks (they are
	// consecutive, in task order).
	FirstTaskID int64          `json:"first_task_id,omitempty"`
	LastTaskID  int64          `json:"last_task_id,omitempty"`
	States      map[string]int `json:"states"`
	ExitCodes   map[string]int `json:"exit_codes,omitempty"`
}

// JobUpdate changes a pending or running job (PATCH /v1/job/{id}). Only
// the fields set are changed.
type JobUpdate struct {
	MaxLifespan *string `json:"max_lifespan,omitempty"`
	Throttle    *int    `json:"throttle,omitempty"`
}

// JobListOptions filter GET /v1/jobs.
type JobListOptions struct {
	// States restricts the list to jobs in these states; empty means every
	// state.
	States []string
	// Limit caps the number of jobs returned (newest first); 0 means the
	// server default (100).
	Limit int
	// Project restricts the list to jobs of one project. With the site's
	// share_project_jobs, members see every member's jobs of the project.
	Project string
}

// Jobs is the client for the job endpoints.
type Jobs struct{ c *Client }

// Jobs returns the job endpoints of the client.
func (c *Client) Jobs() *Jobs { return &Jobs{c: c} }

// Submit sends a job spec and returns the new job's id.
func (j *Jobs) Submit(ctx context.Context, spec *JobSpec) (*SubmitResponse, error) {
	req, err := j.c.newRequest(ctx, http.MethodPost, "/v1/jobs", nil, spec)
	if err != nil {
		return nil, err
	}
	// A key of its own makes the submit safe to send again: if the answer
	// is lost (the agent or the cluster's leader died after storing the
	// job), the retry returns the job stored the first time.
	req.Header.Set(HeaderIdempotencyKey, newSubmitKey())
	var out SubmitResponse
	if err := j.c.doRequest(req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// newSubmitKey is a random idempotency key.
func newSubmitKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// List returns the caller's jobs, newest first.
func (j *Jobs) List(ctx context.Context, opts *JobListOptions) ([]*Job, error) {
	q := url.Values{}
	if opts != nil {
		for _, s := range opts.States {
			q.Add("state", s)
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Project != "" {
			q.Set("project", opts.Project)
		}
	}
	var out []*Job
	if err := j.c.do(ctx, http.MethodGet, "/v1/jobs", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Info returns one job.
func (j *Jobs) Info(ctx context.Context, id int64) (*Job, error) {
	return j.Wait(ctx, id, 0, 0)
}

// Wait is a blocking query: it returns the job once its version is greater
// than index, or after wait has passed (the server caps it), whichever comes
// first. An index of 0 returns at once.
func (j *Jobs) Wait(ctx context.Context, id, index int64, wait time.Duration) (*Job, error) {
	q := url.Values{}
	if index > 0 {
		q.Set("index", strconv.FormatInt(index, 10))
		q.Set("wait", wait.String())
	}
	var out Job
	if err := j.c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/job/%d", id), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Stop kills a pending or running job. Stopping a finished job is not an
// error: the job is returned unchanged.
func (j *Jobs) Stop(ctx context.Context, id int64) (*Job, error) {
	var out Job
	if err := j.c.do(ctx, http.MethodDelete, fmt.Sprintf("/v1/job/%d", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Hold keeps a pending job from starting until Release.
func (j *Jobs) Hold(ctx context.Context, id int64) (*Job, error) { return j.action(ctx, id, "hold") }

// Release lets a held job start.
func (j *Jobs) Release(ctx context.Context, id int64) (*Job, error) {
	return j.action(ctx, id, "release")
}

// Suspend freezes every process of a running job.
func (j *Jobs) Suspend(ctx context.Context, id int64) (*Job, error) {
	return j.action(ctx, id, "suspend")
}

// Resume continues a suspended job.
func (j *Jobs) Resume(ctx context.Context, id int64) (*Job, error) {
	return j.action(ctx, id, "resume")
}

func (j *Jobs) action(ctx context.Context, id int64, verb string) (*Job, error) {
	var out Job
	if err := j.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/job/%d/%s", id, verb), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reschedule kills a running job and puts it back to pending with the
// same id, to run again.
func (j *Jobs) Reschedule(ctx context.Context, id int64) (*Job, error) {
	return j.action(ctx, id, "reschedule")
}

// Archive removes a finished job's directory (and, with purge, its record).
func (j *Jobs) Archive(ctx context.Context, id int64, purge bool) (*ArchiveResponse, error) {
	q := url.Values{}
	if purge {
		q.Set("purge", "true")
	}
	var out ArchiveResponse
	if err := j.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/job/%d/archive", id), q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ArchiveOlder archives the caller's jobs over for longer than a duration
// (every user's for an admin).
func (j *Jobs) ArchiveOlder(ctx context.Context, r *ArchiveRequest) (*ArchiveResponse, error) {
	var out ArchiveResponse
	if err := j.c.do(ctx, http.MethodPost, "/v1/jobs/archive", nil, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Update changes the updatable fields of a pending or running job.
func (j *Jobs) Update(ctx context.Context, id int64, u *JobUpdate) (*Job, error) {
	var out Job
	if err := j.c.do(ctx, http.MethodPatch, fmt.Sprintf("/v1/job/%d", id), nil, u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Log streams of a job.
const (
	LogStdout = "stdout"
	LogStderr = "stderr"
)

// Logs returns a job's stdout (god.log) or stderr (god.err) from offset. With
// follow, the stream stays open until the job is over and everything is read.
// The caller closes the reader.
func (j *Jobs) Logs(ctx context.Context, id int64, stream string, offset int64, follow bool) (io.ReadCloser, error) {
	q := url.Values{}
	q.Set("stream", stream)
	if offset > 0 {
		q.Set("offset", strconv.FormatInt(offset, 10))
	}
	if follow {
		q.Set("follow", "true")
	}
	return j.c.stream(ctx, fmt.Sprintf("/v1/job/%d/logs", id), q)
}

// Explanation answers "why is my job still pending?" (GET /v1/job/{id}/why).
type Explanation struct {
	JobID int64  `json:"job_id"`
	State string `json:"state"`
	// Position is the job's place in the scheduler's order among every
	// pending job (1 = next), Pending their number; PositionMine is its
	// place among its owner's pending jobs.
	Position     int `json:"position,omitempty"`
	PositionMine int `json:"position_mine,omitempty"`
	Pending      int `json:"pending"`
	// Reasons are what keeps the job from starting, most decisive first.
	Reasons []Reason `json:"reasons"`
	// EstimatedStart is when the job should start, from a simulation of the
	// queue with each job running as long as its owner's recent jobs did
	// (an hour before any has finished; never past a job's max lifespan).
	EstimatedStart *time.Time `json:"estimated_start,omitempty"`
}

// Reason is one thing that keeps a job from starting, with numbers and
// what would change it.
type Reason struct {
	// Kind: held, dependency, retry, quota, throttle, capacity, queue,
	// not-pending.
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// QueueEntry is a pending job in the scheduler's order (GET /v1/queue).
type QueueEntry struct {
	Position int     `json:"position"`
	Job      *Job    `json:"job"`
	Blocked  *Reason `json:"blocked,omitempty"`
	// EstimatedStart is when the job should start if jobs run as long as
	// their owners' recent ones did; absent for held jobs and jobs waiting
	// for dependencies.
	EstimatedStart *time.Time `json:"estimated_start,omitempty"`
}

// Why explains what keeps a job from starting.
func (j *Jobs) Why(ctx context.Context, id int64) (*Explanation, error) {
	var out Explanation
	if err := j.c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/job/%d/why", id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Queue returns the pending jobs the caller may see (all for an admin) in
// the scheduler's order, with their positions among every pending job.
func (j *Jobs) Queue(ctx context.Context) ([]*QueueEntry, error) {
	var out []*QueueEntry
	if err := j.c.do(ctx, http.MethodGet, "/v1/queue", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// UsageEntry is one user's line of the usage ledger (GET /v1/usage):
// decayed past usage, what runs now and what waits.
type UsageEntry struct {
	User string `json:"user"`
	UID  int    `json:"uid"`
	// CPUHours, MemoryGiBHours and GPUHours are past usage, fading by
	// half every half-life; EffectiveHours folds memory and GPUs in with
	// the site's weights (core-hours) and is what fair share compares.
	CPUHours       float64 `json:"cpu_hours"`
	MemoryGiBHours float64 `json:"memory_gib_hours"`
	GPUHours       float64 `json:"gpu_hours"`
	EffectiveHours float64 `json:"effective_hours"`
	RunningCPU     float64 `json:"running_cpu"`
	RunningGPUs    int     `json:"running_gpus"`
	Pending        int     `json:"pending"`
	// Priority is the user's (0-100) and WindowCPUHours the core-hours
	// of their jobs that ended within the quota window.
	Priority       int     `json:"priority"`
	WindowCPUHours float64 `json:"window_cpu_hours"`
}

// ProjectUsage is what a project's jobs use, against its quota.
type ProjectUsage struct {
	Project        string        `json:"project"`
	Priority       int           `json:"priority"`
	RunningJobs    int           `json:"running_jobs"`
	RunningCPU     float64       `json:"running_cpu"`
	RunningMemory  int64         `json:"running_memory"`
	RunningGPUs    int           `json:"running_gpus"`
	WindowCPUHours float64       `json:"window_cpu_hours"`
	Window         string        `json:"window"`
	Quota          *ProjectQuota `json:"quota,omitempty"`
	// CPUHours, MemoryGiBHours, GPUHours and EffectiveHours are the
	// project's decayed past usage, as in UsageEntry: fair share weighs
	// its jobs by it too.
	CPUHours       float64 `json:"cpu_hours"`
	MemoryGiBHours float64 `json:"memory_gib_hours"`
	GPUHours       float64 `json:"gpu_hours"`
	EffectiveHours float64 `json:"effective_hours"`
}

// GroupUsage is the decayed past usage of the jobs whose owners have a
// group as their primary group (GET /v1/usage/group/{group}).
type GroupUsage struct {
	Group          string  `json:"group"`
	GID            int     `json:"gid"`
	CPUHours       float64 `json:"cpu_hours"`
	MemoryGiBHours float64 `json:"memory_gib_hours"`
	GPUHours       float64 `json:"gpu_hours"`
	EffectiveHours float64 `json:"effective_hours"`
}

// GroupUsage returns a group's usage, by name or gid (its members and
// admins).
func (c *Client) GroupUsage(ctx context.Context, group string) (*GroupUsage, error) {
	var out GroupUsage
	if err := c.do(ctx, http.MethodGet, "/v1/usage/group/"+url.PathEscape(group), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ProjectUsage returns a project's usage (members and admins).
func (c *Client) ProjectUsage(ctx context.Context, project string) (*ProjectUsage, error) {
	var out ProjectUsage
	if err := c.do(ctx, http.MethodGet, "/v1/usage/project/"+url.PathEscape(project), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Usage returns the usage ledger: the caller's line, everyone's for root.
func (c *Client) Usage(ctx context.Context) ([]*UsageEntry, error) {
	var out []*UsageEntry
	if err := c.do(ctx, http.MethodGet, "/v1/usage", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
