package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
)

// GetRecord implements store.Records.
func (s *Store) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	r := &store.Record{Kind: kind, Key: key}
	err := s.readDB.QueryRowContext(ctx, "SELECT version, data FROM records WHERE kind = ? AND key = ?", kind, key).Scan(&r.Version, &r.Value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNoRecord
	}
	return r, err
}

// PutRecord implements store.Records.
func (s *Store) PutRecord(ctx context.Context, r *store.Record) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		if r.Version == 0 {
			res, err := tx.Exec("INSERT INTO records(kind, key, version, data) VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING", r.Kind, r.Key, r.Value)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return err
			}
			return store.ErrConflict
		}
		res, err := tx.Exec("UPDATE records SET version = version + 1, data = ? WHERE kind = ? AND key = ? AND version = ?", r.Value, r.Kind, r.Key, r.Version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := tx.QueryRow("SELECT 1 FROM records WHERE kind = ? AND key = ?", r.Kind, r.Key).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNoRecord
		}
		return store.ErrConflict
	})
	if err != nil {
		return err
	}
	r.Version++
	return nil
}

// DeleteRecord implements store.Records.
func (s *Store) DeleteRecord(ctx context.Context, kind, key string, version int64) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec("DELETE FROM records WHERE kind = ? AND key = ? AND (? = 0 OR version = ?)", kind, key, version, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := tx.QueryRow("SELECT 1 FROM records WHERE kind = ? AND key = ?", kind, key).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNoRecord
		}
		return store.ErrConflict
	})
}

// ListRecords implements store.Records.
func (s *Store) ListRecords(ctx context.Context, kind string) ([]*store.Record, error) {
	rows, err := s.readDB.QueryContext(ctx, "SELECT key, version, data FROM records WHERE kind = ? ORDER BY key", kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Record
	for rows.Next() {
		r := &store.Record{Kind: kind}
		if err := rows.Scan(&r.Key, &r.Version, &r.Value); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AppendAudit implements store.Records.
func (s *Store) AppendAudit(ctx context.Context, e *api.AuditEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec("INSERT INTO audit(at, actor, action, data) VALUES (?, ?, ?, ?)", e.Time.UnixNano(), e.Actor, e.Action, data)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if err == nil {
		e.ID = id
	}
	return err
}

// ListAudit implements store.Records.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*api.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if !f.Since.IsZero() {
		add("at >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("at < ?", f.Until.UnixNano())
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	q := "SELECT id, data FROM audit"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.readDB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*api.AuditEntry
	for rows.Next() {
		var id int64
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, err
		}
		e := &api.AuditEntry{}
		if err := json.Unmarshal(data, e); err != nil {
			return nil, fmt.Errorf("audit entry %d: %w", id, err)
		}
		e.ID = id
		out = append(out, e)
	}
	return out, rows.Err()
}
