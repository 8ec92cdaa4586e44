package store

import (
	"context"
	"errors"
	"time"

	"github.com/godocker/god/api"
)

// ErrNoRecord is returned when no record has the kind and key.
var ErrNoRecord = errors.New("record not found")

// Record kinds the agent keeps.
const (
	KindUser    = "user"
	KindProject = "project"
	KindToken   = "token"  // revoked tokens, until they expire
	KindSecret  = "secret" // the token signing key, shared by every agent
	KindVolume  = "volume" // volumes admins define through the API
)

// Record is a small document (a user, a project...) kept by kind and key.
// Value is opaque to the store; Version works as for jobs.
type Record struct {
	Kind    string
	Key     string
	Value   []byte
	Version int64
}

// AuditFilter selects audit entries; zero fields do not filter.
type AuditFilter struct {
	Actor  string
	Action string
	Since  time.Time
	Until  time.Time
	// BeforeID pages backwards: only entries with a smaller id.
	BeforeID int64
	// Limit caps the result (newest first); 0 means no cap.
	Limit int
}

// Records keeps the agent's small documents and its append-only audit log,
// durably like jobs. Every store implements it beside Store.
type Records interface {
	// GetRecord returns a record, or ErrNoRecord.
	GetRecord(ctx context.Context, kind, key string) (*Record, error)
	// PutRecord creates r when r.Version is 0 (ErrConflict if it exists),
	// otherwise replaces it if the stored version equals r.Version
	// (ErrConflict if not, ErrNoRecord if it is gone). It then sets
	// r.Version to the stored version.
	PutRecord(ctx context.Context, r *Record) error
	// DeleteRecord removes a record at version (0: any version).
	DeleteRecord(ctx context.Context, kind, key string, version int64) error
	// ListRecords returns every record of a kind, by key.
	ListRecords(ctx context.Context, kind string) ([]*Record, error)
	// AppendAudit stores an entry and assigns its ID. Entries are never
	// changed or removed through this interface.
	AppendAudit(ctx context.Context, e *api.AuditEntry) error
	// ListAudit returns matching entries, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*api.AuditEntry, error)
}
