// Package store defines where GoDocker keeps its jobs. Every implementation
// (the embedded SQLite store, the shared Redis store) satisfies Store and
// passes the conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/godocker/god/job"
)

// ErrNotFound is returned when no job has the id.
var ErrNotFound = errors.New("job not found")

// ErrConflict is returned by Update when the job changed since it was read:
// the caller re-reads and decides again.
var ErrConflict = errors.New("job changed concurrently")

// DuplicateError is returned by Create and CreateArray when a job with the
// same SubmitKey exists: nothing was stored; ID is that job.
type DuplicateError struct{ ID int64 }

func (e *DuplicateError) Error() string {
	return "a job with this submit key exists: job " + strconv.FormatInt(e.ID, 10)
}

// ErrFenced is returned by a fenced view's writes once a newer leader epoch
// was claimed: this agent is no longer the leader and must stop writing.
var ErrFenced = errors.New("job store fenced: a newer leader epoch was claimed")

// Fencer is implemented by stores that several agents share: the leader
// claims its epoch and writes through the returned view; a deposed leader's
// writes fail with ErrFenced. Fence fails with ErrFenced if a greater epoch
// was already claimed. Reads through the view are not fenced.
type Fencer interface {
	Fence(ctx context.Context, epoch uint64) (Store, error)
}

// IsFull reports a write refused because the store's disk is full: the
// SQLite file system (ENOSPC, SQLITE_FULL) or a Redis server that cannot
// append to its AOF. Nothing of the write was stored.
func IsFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "No space left on device") ||
		strings.Contains(msg, "SQLITE_FULL")
}

// Identified is implemented by stores that have an Identity (every store
// Open makes, and their fenced views).
type Identified interface {
	Identity() Identity
}

// BatchCreator is implemented by stores that can create many jobs in one
// atomic write. CreateBatch stores every job or none, assigning each its
// ID and Version; if any job's SubmitKey is taken it stores nothing and
// returns a *DuplicateError naming the job that has it. The caller's jobs
// change only on success.
type BatchCreator interface {
	CreateBatch(ctx context.Context, jobs []*job.Job) error
}

// ErrBatchUnsupported is returned by a wrapper's CreateBatch when the store
// it wraps has none: nothing was stored.
var ErrBatchUnsupported = errors.New("this job store cannot create a batch in one write")

// Filter selects jobs for List.
type Filter struct {
	// UID restricts to one submitter when not nil.
	UID *int
	// States restricts to these primary states when not empty.
	States []string
	// Ascending lists oldest first (the scheduler's order); otherwise newest first.
	Ascending bool
	// Limit caps the result; 0 means no cap.
	Limit int
	// ParentID restricts to the tasks of one array job when not 0.
	ParentID int64
	// EndedBefore restricts to jobs that ended before this time when not zero.
	EndedBefore time.Time
	// BeforeID restricts to jobs with a smaller id when not 0 (paging
	// newest first).
	BeforeID int64
}

// Store keeps jobs durably: a call that returns nil has reached stable storage.
type Store interface {
	// Create stores a new job, assigning its ID and Version. When
	// j.SubmitKey is set and a job with that key exists, it stores nothing
	// and returns a *DuplicateError naming that job: the check and the
	// write are one atomic step, so concurrent retries create one job.
	Create(ctx context.Context, j *job.Job) error
	// CreateArray stores an array job and its tasks in one transaction:
	// either all of them exist afterwards or none. It assigns every ID and
	// Version and sets each task's ParentID. The parent's SubmitKey is
	// checked as Create checks it.
	CreateArray(ctx context.Context, parent *job.Job, tasks []*job.Job) error
	// GetBySubmitKey returns the job stored with that SubmitKey, or
	// ErrNotFound. Deleting the job frees its key.
	GetBySubmitKey(ctx context.Context, key string) (*job.Job, error)
	// Delete removes a job's record (purge); a missing job is ErrNotFound.
	Delete(ctx context.Context, id int64) error
	// Get returns a job by id, or ErrNotFound.
	Get(ctx context.Context, id int64) (*job.Job, error)
	// Update stores j if the stored version still equals j.Version, then
	// increments j.Version. Otherwise it returns ErrConflict (or ErrNotFound).
	Update(ctx context.Context, j *job.Job) error
	// List returns the jobs matching f, by id.
	List(ctx context.Context, f Filter) ([]*job.Job, error)
	// Close releases the store.
	Close() error
}
