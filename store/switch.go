package store

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
)

// Switch is a Store (and Records) whose backing view can be replaced while
// it is in use: an agent of a cluster writes through the view fenced with
// its leadership epoch while it leads, and through the plain store
// otherwise. Every call uses the view current when it starts.
type Switch struct {
	cur atomic.Pointer[view]
}

// fenced calls the view's onFenced when a write was refused because a
// newer leader claimed the store.
func (v *view) fenced(err error) error {
	if v.onFenced != nil && errors.Is(err, ErrFenced) {
		v.onFenced()
	}
	return err
}

type view struct {
	Store
	rec      Records
	onFenced func()
}

// NewSwitch returns a Switch over s, which must implement Records.
func NewSwitch(s Store) *Switch {
	sw := &Switch{}
	sw.Set(s, nil)
	return sw
}

// Set makes s the view of every later call; s must implement Records.
// onFenced, if not nil, is called whenever a write through s fails with
// ErrFenced: the agent steps down.
func (sw *Switch) Set(s Store, onFenced func()) {
	rec, _ := s.(Records)
	sw.cur.Store(&view{Store: s, rec: rec, onFenced: onFenced})
}

// Identity implements Identified: the identity of the current view's
// store (every view of one store has the same).
func (sw *Switch) Identity() Identity {
	if id, ok := sw.cur.Load().Store.(Identified); ok {
		return id.Identity()
	}
	return Identity{}
}

// Current is the view calls use now.
func (sw *Switch) Current() Store { return sw.cur.Load().Store }

func (sw *Switch) Create(ctx context.Context, j *job.Job) error {
	v := sw.cur.Load()
	return v.fenced(v.Create(ctx, j))
}

func (sw *Switch) CreateArray(ctx context.Context, parent *job.Job, tasks []*job.Job) error {
	v := sw.cur.Load()
	return v.fenced(v.CreateArray(ctx, parent, tasks))
}

// CreateBatch implements BatchCreator when the current view does; it
// returns ErrBatchUnsupported otherwise (nothing stored).
func (sw *Switch) CreateBatch(ctx context.Context, jobs []*job.Job) error {
	v := sw.cur.Load()
	bc, ok := v.Store.(BatchCreator)
	if !ok {
		return ErrBatchUnsupported
	}
	return v.fenced(bc.CreateBatch(ctx, jobs))
}

func (sw *Switch) Delete(ctx context.Context, id int64) error {
	v := sw.cur.Load()
	return v.fenced(v.Delete(ctx, id))
}

func (sw *Switch) Get(ctx context.Context, id int64) (*job.Job, error) {
	return sw.cur.Load().Get(ctx, id)
}

func (sw *Switch) GetBySubmitKey(ctx context.Context, key string) (*job.Job, error) {
	return sw.cur.Load().GetBySubmitKey(ctx, key)
}

func (sw *Switch) Update(ctx context.Context, j *job.Job) error {
	v := sw.cur.Load()
	return v.fenced(v.Update(ctx, j))
}

func (sw *Switch) List(ctx context.Context, f Filter) ([]*job.Job, error) {
	return sw.cur.Load().List(ctx, f)
}

// Close closes the current view.
func (sw *Switch) Close() error { return sw.cur.Load().Close() }

func (sw *Switch) GetRecord(ctx context.Context, kind, key string) (*Record, error) {
	return sw.cur.Load().rec.GetRecord(ctx, kind, key)
}

func (sw *Switch) PutRecord(ctx context.Context, r *Record) error {
	v := sw.cur.Load()
	return v.fenced(v.rec.PutRecord(ctx, r))
}

func (sw *Switch) DeleteRecord(ctx context.Context, kind, key string, version int64) error {
	v := sw.cur.Load()
	return v.fenced(v.rec.DeleteRecord(ctx, kind, key, version))
}

func (sw *Switch) ListRecords(ctx context.Context, kind string) ([]*Record, error) {
	return sw.cur.Load().rec.ListRecords(ctx, kind)
}

func (sw *Switch) AppendAudit(ctx context.Context, e *api.AuditEntry) error {
	v := sw.cur.Load()
	return v.fenced(v.rec.AppendAudit(ctx, e))
}

func (sw *Switch) ListAudit(ctx context.Context, f AuditFilter) ([]*api.AuditEntry, error) {
	return sw.cur.Load().rec.ListAudit(ctx, f)
}
