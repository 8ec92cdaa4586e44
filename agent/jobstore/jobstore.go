// Package jobstore opens the job store an agent's configuration names: the
// embedded SQLite database in <data_dir>/store, or a Redis server. On Redis
// an agent alone (no consul block) takes the agent lock first, so that a
// second agent refuses to start on a store that one already uses, and gets
// a view fenced with the lock's epoch; the agents of a cluster share the
// store and Consul elects the one that writes.
package jobstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/store"
	"github.com/godocker/god/store/redis"
	"github.com/godocker/god/store/sqlite"
)

// DefaultLockTTL is how long the agent lock of a Redis store outlives an
// agent that stopped refreshing it (it is refreshed every third of that).
const DefaultLockTTL = 15 * time.Second

// Store is an open job store.
type Store struct {
	// Store is what the agent reads and writes through (agent.Options);
	// it implements store.Records too.
	Store store.Store

	desc   string
	closer func() error
	lock   *redis.Lock
	once   sync.Once
	err    error
}

// Open opens the store of cfg, which Finalize has checked.
func Open(ctx context.Context, cfg *config.Config) (*Store, error) {
	sc := cfg.Store
	if sc == nil || sc.Backend == "sqlite" {
		dir := filepath.Join(cfg.DataDir, "store")
		st, err := sqlite.Open(dir)
		if err != nil {
			return nil, err
		}
		return &Store{Store: st, desc: "sqlite " + dir, closer: st.Close}, nil
	}
	password := sc.Password
	if sc.PasswordFile != "" {
		b, err := os.ReadFile(sc.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf(`store "redis": password_file: %w`, err)
		}
		password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	st, err := redis.Open(ctx, redis.Config{
		Address: sc.Address, Username: sc.Username, Password: password, DB: sc.DB, Prefix: sc.Prefix,
		TLS: sc.TLS, TLSCAFile: sc.TLSCAFile, AllowNonDurable: sc.AllowNonDurable,
	})
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("redis %s (prefix %q)", sc.Address, sc.Prefix)
	if cfg.Cluster != nil {
		// Several agents share the store: Consul elects the one that
		// writes, fencing each leader's writes with its epoch. An agent
		// without a consul block on it would schedule beside the leader.
		if held, ok := st.LockHolder(ctx); ok {
			st.Close()
			return nil, fmt.Errorf("redis store at %s (prefix %q) is used by an agent without a consul block (%s): stop it, or give it the cluster's consul block, before starting the agents of a cluster", sc.Address, sc.Prefix, held.Holder)
		}
		return &Store{Store: st, desc: desc + ", shared by the cluster", closer: st.Close}, nil
	}
	if leader, ok := st.ClusterLeader(ctx); ok {
		st.Close()
		return nil, fmt.Errorf("redis store at %s (prefix %q) is shared by a cluster of agents (leader %s): give this agent the cluster's consul block, or another prefix", sc.Address, sc.Prefix, leader)
	}
	host, _ := os.Hostname()
	ttl := sc.LockTTL
	if ttl == 0 {
		ttl = DefaultLockTTL
	}
	lock, err := st.Lock(ctx, redis.Holder{Host: host, PID: os.Getpid(), Since: time.Now()}, ttl)
	if err != nil {
		st.Close()
		return nil, err
	}
	view, err := st.Fence(ctx, lock.Epoch())
	if err != nil {
		_ = lock.Release(context.WithoutCancel(ctx))
		st.Close()
		return nil, err
	}
	return &Store{
		Store: view,
		desc:  desc,
		lock:  lock,
		closer: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return errors.Join(lock.Release(ctx), view.Close(), st.Close())
		},
	}, nil
}

// Identity is the store's identity (store.Identity): executors name and
// label what they create for its jobs with it.
func (s *Store) Identity() store.Identity {
	if id, ok := s.Store.(store.Identified); ok {
		return id.Identity()
	}
	return store.Identity{}
}

// String says which store this is, for the agent's start banner.
func (s *Store) String() string { return s.desc }

// Lost is closed when the agent lock of a Redis store is lost: the agent
// must stop, as another may be starting on the store. Never for SQLite.
func (s *Store) Lost() <-chan struct{} {
	if s.lock == nil {
		return nil
	}
	return s.lock.Lost()
}

// LostErr says why the lock was lost; nil while it is held.
func (s *Store) LostErr() error {
	if s.lock == nil {
		return nil
	}
	return s.lock.Err()
}

// Close releases the agent lock, if any, and closes the store. The agent
// must have stopped using it. Closing again does nothing.
func (s *Store) Close() error {
	s.once.Do(func() { s.err = s.closer() })
	return s.err
}
