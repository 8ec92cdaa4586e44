package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/godocker/god/store"
)

// recordCacheTTL is how long a kind's records read from the store are
// reused: long enough that a submit does not read the store, short enough
// that another agent's change shows soon.
const recordCacheTTL = 5 * time.Second

// recordCache keeps every record of one small kind (projects, volumes: a
// site has tens), decoded, for recordCacheTTL or until forgotten.
type recordCache[T any] struct {
	kind string
	mu   sync.Mutex
	m    map[string]*T
	at   time.Time
}

// get returns the records by key, from the cache when fresh. fix, if not
// nil, completes each decoded record with what its stored form lacks.
func (c *recordCache[T]) get(ctx context.Context, rec store.Records, fix func(*T, *store.Record)) (map[string]*T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m != nil && time.Since(c.at) < recordCacheTTL {
		return c.m, nil
	}
	recs, err := rec.ListRecords(ctx, c.kind)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*T, len(recs))
	for _, r := range recs {
		v := new(T)
		if err := json.Unmarshal(r.Value, v); err != nil {
			return nil, fmt.Errorf("%s %s: %w", c.kind, r.Key, err)
		}
		if fix != nil {
			fix(v, r)
		}
		m[r.Key] = v
	}
	c.m, c.at = m, time.Now()
	return m, nil
}

// forget drops the cache after a change, so this agent sees it at once.
func (c *recordCache[T]) forget() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}
