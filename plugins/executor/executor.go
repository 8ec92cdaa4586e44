// Package executor defines how GoDocker runs a job on an engine (the local
// Docker engine, Swarm, Nomad, Kubernetes, Grid Engine, Slurm...). The agent
// owns the job's life; an executor only starts, observes and stops the
// container of one job, identified by the job id.
package executor

import (
	"context"
	"errors"
	"io"
	"time"
)

// Capability is something an executor may support beyond start and watch.
type Capability string

// Capabilities an executor can declare.
const (
	CapKill  Capability = "kill"
	CapPause Capability = "pause"
	CapExec  Capability = "exec"
	CapLogs  Capability = "logs"
	CapPorts Capability = "ports"
	CapGPUs  Capability = "gpus"
	// CapLocalMounts: the engine binds paths of the agent's own host
	// (the local Docker engine), so the agent can pin a checked path for
	// it (agent/pin) instead of trusting that it does not change.
	CapLocalMounts Capability = "local-mounts"
)

// Mount is a host path bound into the container.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
	// UserPath marks a source the job's user can change (a volume, a
	// home): checked by the agent and, on an executor with
	// CapLocalMounts, pinned.
	UserPath bool
}

// Task is everything an executor needs to run one job's container. The agent
// has already written the job directory and resolved mounts and identity.
type Task struct {
	JobID int64
	Name  string // the job's name, for labels
	// Owner is the uid of the job's submitter (also for a root job, which
	// runs as uid 0): the container is labelled with it, and a Start that
	// finds the job's container owned by someone else refuses it.
	Owner int
	Image string
	// Entrypoint is the argv the container runs (the agent's wrapper).
	Entrypoint []string
	Env        []string
	WorkDir    string
	// UID, GID and Groups the container runs as (0 only for allowed root jobs).
	UID    int
	GID    int
	Groups []int
	Mounts []Mount
	CPU    float64 // cores
	Memory int64   // bytes
	// GPUs is how many whole GPUs the container gets (0: none). An
	// executor passes them to the engine (a Docker device request, a Nomad
	// device) and reports how many it has in Capacity.GPUs.
	GPUs int
	// AvoidNodes are nodes the job failed on before: an executor must not
	// place it there (refusing with a permanent error if it has no other).
	AvoidNodes []string
	// KillTimeout is how long Stop lets the job's processes end after
	// SIGTERM: an executor whose engine escalates by itself (Nomad's
	// kill_timeout) registers it with the job; the agent escalates with
	// Kill on the others.
	KillTimeout time.Duration
}

// State of a task's container as the engine reports it.
type State struct {
	JobID    int64
	ID       string // the engine's id of the container
	Name     string
	Node     string
	Running  bool
	Paused   bool
	ExitCode int
	// OOMKilled is set when the engine killed the container for memory.
	OOMKilled bool
	// Error is the engine's explanation of an abnormal end, if any.
	Error string
	// Removing is set when the container is being removed (or is dead)
	// and the agent did not ask for it: someone removed it behind
	// GoDocker's back, so its exit code (137 from the removal's kill) is
	// not the job's. The agent treats it as lost.
	Removing bool
	// Interrupted, when set, says how the container was stopped from
	// outside the job: the engine was asked to signal it (docker stop or
	// kill by someone, the engine's own shutdown) or it ended while an
	// engine without live-restore was down. Its exit code is the signal's,
	// not the job's: the agent takes it for a loss unless GoDocker itself
	// asked for the stop.
	Interrupted string
	StartedAt   time.Time
	FinishedAt  time.Time
	// Owner is the submitter's uid the container is labelled with. For a
	// container of the old naming (Legacy: made before stores had an
	// identity, recognised for one release) it is the uid it runs as, as
	// that release labelled no owner. The agent acts on a container only
	// when this matches the job's record (OwnedBy). OwnerUnknown: the
	// executor labels no owner.
	Owner  int
	Legacy bool
	// Requeue is set, with Running false and the reason in Error, when the
	// executor gave the job back without running it: a cluster engine
	// (Nomad) could not place it within the executor's placement timeout,
	// so the executor withdrew it. The agent puts the job back to pending
	// with Error as the reason instead of ending it; the next Start
	// submits it again.
	Requeue bool
	// Links are the engine's own references to the job, for people (the
	// Nomad executor sets LinkNomadJob, LinkNomadAlloc and LinkNomadUI);
	// `god job status` shows them. Nil when the engine has none.
	Links map[string]string
}

// OwnerUnknown is the State.Owner of an executor that labels no owner.
const OwnerUnknown = -1

// OwnedBy reports whether the container is the one of a job submitted by
// uid owner that runs as runAs (0 for a root job, else owner).
func (s *State) OwnedBy(owner, runAs int) bool {
	switch {
	case s.Owner == OwnerUnknown && !s.Legacy:
		return true
	case s.Legacy:
		return s.Owner == runAs
	}
	return s.Owner == owner
}

// Keys of State.Links.
const (
	LinkNomadJob   = "nomad_job"   // the Nomad job id
	LinkNomadAlloc = "nomad_alloc" // the id of its latest allocation
	LinkNomadUI    = "nomad_ui"    // the job's page in the Nomad web UI
)

// Capacity is what the executor can run at once. GPUs is 0 on an
// executor without any: jobs that ask for one are refused at submit.
type Capacity struct {
	CPU    float64
	Memory int64
	GPUs   int
}

// Event tells the agent that a task's container stopped running.
type Event struct {
	JobID int64
}

// ErrNotFound is returned when the engine has no container for the job.
var ErrNotFound = errors.New("no container for this job")

// ErrNotSupported is returned by an optional method (Pause, Unpause) of an
// executor that does not declare the matching capability.
var ErrNotSupported = errors.New("not supported by this executor")

// ErrPermanent marks start errors that will not go away by retrying (an
// image that does not exist, an invalid configuration): the job ends
// instead of waiting. Test with errors.Is; make one with Permanent.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as permanent without changing its message, which the
// user reads as the job's reason.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ err error }

func (e permanentError) Error() string        { return e.err.Error() }
func (e permanentError) Unwrap() error        { return e.err }
func (e permanentError) Is(target error) bool { return target == ErrPermanent }

// Executor runs tasks on one engine.
type Executor interface {
	// Name is the executor's configured name ("docker").
	Name() string
	// Capabilities lists what the executor supports beyond start and watch.
	Capabilities() []Capability
	// Capacity reports the total resources jobs may use.
	Capacity(ctx context.Context) (Capacity, error)
	// Start creates and starts the task's container. It is idempotent per
	// job id: if a container already exists for the job, it is left as is and
	// its state returned, so a job is never started twice.
	Start(ctx context.Context, t *Task) (*State, error)
	// Inspect returns the state of the job's container, or ErrNotFound.
	Inspect(ctx context.Context, jobID int64) (*State, error)
	// List returns the states of every container this executor manages.
	List(ctx context.Context) ([]*State, error)
	// Stop asks the job's container to end: SIGTERM to its processes
	// (the agent's entrypoint passes it on to all of them), then, on an
	// engine that escalates by itself, SIGKILL once the task's KillTimeout
	// has passed. It returns once the signal is sent, without waiting for
	// the end; the agent calls Kill if the job is still running at the
	// deadline. Stopping a missing or stopped container is not an error.
	Stop(ctx context.Context, jobID int64) error
	// Kill stops the job's container at once (SIGKILL), paused or not.
	// Killing a missing or stopped container is not an error.
	Kill(ctx context.Context, jobID int64) error
	// Pause suspends the job's container: every process in it (not only its
	// first one) is frozen, holding its memory but using no CPU, until
	// Unpause. Pausing a paused container is not an error; pausing one that
	// is not running is. A missing container is ErrNotFound. An executor
	// without CapPause returns ErrNotSupported.
	Pause(ctx context.Context, jobID int64) error
	// Unpause resumes every process of a container suspended by Pause.
	// Unpausing a container that is not paused is not an error. A missing
	// container is ErrNotFound. An executor without CapPause returns
	// ErrNotSupported.
	Unpause(ctx context.Context, jobID int64) error
	// Remove deletes the job's stopped container. A missing one is not an error.
	Remove(ctx context.Context, jobID int64) error
	// Events streams an event each time a managed container stops. The
	// channel closes when ctx ends or the stream breaks; the caller then
	// reconciles with List and subscribes again.
	Events(ctx context.Context) (<-chan Event, error)
}

// LogReader is implemented by executors that declare CapLogs: they can read
// what a job's container wrote to its standard output or error, from the
// engine (which may be on another machine).
type LogReader interface {
	// Logs returns the container's stdout (stderr if stderr is true) from
	// its beginning to now; it does not follow. A missing job is ErrNotFound.
	Logs(ctx context.Context, jobID int64, stderr bool) (io.ReadCloser, error)
}

// Has reports whether caps contains c.
func Has(caps []Capability, c Capability) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}
