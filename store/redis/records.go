package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/godocker/god/api"
	"github.com/godocker/god/store"
)

// checkKind refuses kinds that would make record keys ambiguous.
func checkKind(kind string) error {
	if kind == "" || strings.Contains(kind, ":") {
		return fmt.Errorf("redis store: record kind %q must be non-empty and have no ':'", kind)
	}
	return nil
}

func (s *Store) recordKey(kind, key string) string { return s.prefix + "rec:" + kind + ":" + key }

// GetRecord implements store.Records.
func (s *Store) GetRecord(ctx context.Context, kind, key string) (*store.Record, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	vals, err := s.client.HMGet(ctx, s.recordKey(kind, key), "v", "data").Result()
	if err != nil {
		return nil, fmt.Errorf("redis store: %w", err)
	}
	return decodeRecord(kind, key, vals)
}

// decodeRecord makes a record of the v and data fields of its hash.
func decodeRecord(kind, key string, vals []any) (*store.Record, error) {
	v, ok := vals[0].(string)
	if !ok {
		return nil, store.ErrNoRecord
	}
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("redis store: record %s %q: bad version %q", kind, key, v)
	}
	data, _ := vals[1].(string)
	return &store.Record{Kind: kind, Key: key, Value: []byte(data), Version: version}, nil
}

// PutRecord implements store.Records: compare-and-swap on Version, in one
// script.
func (s *Store) PutRecord(ctx context.Context, r *store.Record) error {
	if err := checkKind(r.Kind); err != nil {
		return err
	}
	if r.Version < 0 {
		return fmt.Errorf("redis store: record %s %q: version %d is negative", r.Kind, r.Key, r.Version)
	}
	v, err := s.write(ctx, putRecordScript, r.Kind, r.Key, strconv.FormatInt(r.Version, 10), r.Value)
	if err != nil {
		return err
	}
	r.Version = v
	return nil
}

// DeleteRecord implements store.Records.
func (s *Store) DeleteRecord(ctx context.Context, kind, key string, version int64) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	_, err := s.write(ctx, deleteRecordScript, kind, key, strconv.FormatInt(version, 10))
	return err
}

// ListRecords implements store.Records: it pages through the kind's keys in
// order and reads their records. A record deleted meanwhile is left out.
func (s *Store) ListRecords(ctx context.Context, kind string) ([]*store.Record, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	var out []*store.Record
	start := "-"
	for {
		keys, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
			Key: s.key("recs", kind), Start: start, Stop: "+", ByLex: true, Count: page,
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		pipe := s.client.Pipeline()
		cmds := make([]*goredis.SliceCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HMGet(ctx, s.recordKey(kind, k), "v", "data")
		}
		if len(keys) > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, fmt.Errorf("redis store: %w", err)
			}
		}
		for i, c := range cmds {
			r, err := decodeRecord(kind, keys[i], c.Val())
			if err == store.ErrNoRecord {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if len(keys) < page {
			return out, nil
		}
		start = "(" + keys[len(keys)-1]
	}
}

// AppendAudit implements store.Records.
func (s *Store) AppendAudit(ctx context.Context, e *api.AuditEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	id, err := s.write(ctx, appendAuditScript, e.Actor, e.Action, strconv.FormatInt(e.Time.Unix(), 10), data)
	if err != nil {
		return err
	}
	e.ID = id
	return nil
}

// auditSource is an index ListAudit can walk: every entry, an actor's, an
// action's (scored by id), or a time range (scored by time).
type auditSource struct {
	key      string
	byTime   bool
	min, max string // the time range
	count    int64
}

// ListAudit implements store.Records. It counts the entries of each index
// the filter names (the actor's, the action's, the time range) and walks
// the smallest, newest first, checking the other conditions on the entries
// it reads.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*api.AuditEntry, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	src, err := s.auditSource(ctx, f)
	if err != nil {
		return nil, err
	}
	next := s.auditIDs(src, f)
	var out []*api.AuditEntry
	for {
		ids, more, err := next(ctx)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			fields := make([]string, len(ids))
			for i, id := range ids {
				fields[i] = strconv.FormatInt(id, 10)
			}
			vals, err := s.client.HMGet(ctx, s.key("audit", "entries"), fields...).Result()
			if err != nil {
				return nil, fmt.Errorf("redis store: %w", err)
			}
			for i, v := range vals {
				data, ok := v.(string)
				if !ok {
					continue // indexed, not stored: cannot happen but by hand
				}
				e := &api.AuditEntry{}
				if err := json.Unmarshal([]byte(data), e); err != nil {
					return nil, fmt.Errorf("redis store: audit entry %d: %w", ids[i], err)
				}
				e.ID = ids[i]
				if !auditMatches(e, f) {
					continue
				}
				out = append(out, e)
				if f.Limit > 0 && len(out) == f.Limit {
					return out, nil
				}
			}
		}
		if !more {
			return out, nil
		}
	}
}

// auditSource picks the smallest index that covers f.
func (s *Store) auditSource(ctx context.Context, f store.AuditFilter) (auditSource, error) {
	cands := []auditSource{{key: s.key("audit", "ids")}}
	if f.Actor != "" {
		cands = append(cands, auditSource{key: s.key("audit", "actor", f.Actor)})
	}
	if f.Action != "" {
		cands = append(cands, auditSource{key: s.key("audit", "action", f.Action)})
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t := auditSource{key: s.key("audit", "time"), byTime: true, min: "-inf", max: "+inf"}
		if !f.Since.IsZero() {
			t.min = strconv.FormatInt(f.Since.Unix(), 10)
		}
		if !f.Until.IsZero() {
			// time < Until, so its second is at most that of Until-1ns.
			t.max = strconv.FormatInt(f.Until.Add(-1).Unix(), 10)
		}
		cands = append(cands, t)
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	cands = cands[1:] // every entry is never fewer
	pipe := s.client.Pipeline()
	cmds := make([]*goredis.IntCmd, len(cands))
	for i, c := range cands {
		if c.byTime {
			cmds[i] = pipe.ZCount(ctx, c.key, c.min, c.max)
		} else {
			cmds[i] = pipe.ZCard(ctx, c.key)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return auditSource{}, fmt.Errorf("redis store: %w", err)
	}
	for i := range cands {
		cands[i].count = cmds[i].Val()
	}
	return slices.MinFunc(cands, func(a, b auditSource) int { return int(a.count - b.count) }), nil
}

// auditIDs returns a function that yields src's ids below f.BeforeID,
// newest first, a page at a time, and whether more may follow.
func (s *Store) auditIDs(src auditSource, f store.AuditFilter) func(context.Context) ([]int64, bool, error) {
	if src.byTime {
		// The range is ordered by time, not id: read it whole (it was the
		// smallest index), then order it.
		var ids []int64
		loaded := false
		return func(ctx context.Context) ([]int64, bool, error) {
			if !loaded {
				members, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
					Key: src.key, Start: src.min, Stop: src.max, ByScore: true,
				}).Result()
				if err != nil {
					return nil, false, fmt.Errorf("redis store: %w", err)
				}
				if ids, err = parseIDs(members); err != nil {
					return nil, false, err
				}
				ids = slices.DeleteFunc(ids, func(id int64) bool { return f.BeforeID > 0 && id >= f.BeforeID })
				slices.Sort(ids)
				slices.Reverse(ids)
				loaded = true
			}
			n := min(page, len(ids))
			chunk := ids[:n]
			ids = ids[n:]
			return chunk, len(ids) > 0, nil
		}
	}
	start := "+inf"
	if f.BeforeID > 0 {
		start = "(" + strconv.FormatInt(f.BeforeID, 10)
	}
	// Only the index filters: a page of Limit entries is the answer.
	count := page
	if exact := f.Since.IsZero() && f.Until.IsZero() && (f.Actor == "" || f.Action == ""); exact && f.Limit > 0 {
		count = min(page, f.Limit)
	}
	return func(ctx context.Context) ([]int64, bool, error) {
		members, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
			Key: src.key, Start: start, Stop: "-inf", ByScore: true, Rev: true, Count: int64(count),
		}).Result()
		if err != nil {
			return nil, false, fmt.Errorf("redis store: %w", err)
		}
		ids, err := parseIDs(members)
		if err != nil {
			return nil, false, err
		}
		if len(members) < count {
			return ids, false, nil
		}
		start = "(" + members[len(members)-1]
		return ids, true, nil
	}
}

func auditMatches(e *api.AuditEntry, f store.AuditFilter) bool {
	switch {
	case f.Actor != "" && e.Actor != f.Actor,
		f.Action != "" && e.Action != f.Action,
		!f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && !e.Time.Before(f.Until),
		f.BeforeID > 0 && e.ID >= f.BeforeID:
		return false
	}
	return true
}
