package redis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The agent lock keeps a second agent from running on a store that one
// already uses: until leadership is elected (a Consul lock), exactly one
// agent may schedule. It is a key with a TTL, set only if absent and
// refreshed by its holder; a holder that dies stops refreshing it, and it
// expires. Taking it also claims the next fencing epoch, so the holder
// writes through a fenced view: if its lock expired unnoticed (a long
// pause) and another agent took it, its writes fail instead of mixing with
// the new holder's.

// lockKey is the agent lock's key after the prefix.
const lockKey = "agent:lock"

// MinLockTTL is the shortest lock TTL: the lock is refreshed every third
// of it, and PX counts milliseconds.
const MinLockTTL = 100 * time.Millisecond

// errLocked is the lock scripts' answer when another holder has the lock.
var errLocked = errors.New("agent lock held by another agent")

// lockScript takes the lock with value ARGV[3] for ARGV[4] ms if nobody
// holds it, and then claims and returns the next fencing epoch.
var lockScript = goredis.NewScript(prelude + `
if not redis.call('SET', p .. 'agent:lock', ARGV[3], 'NX', 'PX', ARGV[4]) then return -5 end
local e = tonumber(redis.call('GET', p .. 'epoch') or '0') + 1
redis.call('SET', p .. 'epoch', string.format('%d', e))
return e
`)

// refreshScript extends the lock to ARGV[4] ms if it still holds ARGV[3].
var refreshScript = goredis.NewScript(prelude + `
if redis.call('GET', p .. 'agent:lock') ~= ARGV[3] then return -5 end
redis.call('PEXPIRE', p .. 'agent:lock', ARGV[4])
return 1
`)

// releaseScript deletes the lock if it still holds ARGV[3].
var releaseScript = goredis.NewScript(prelude + `
if redis.call('GET', p .. 'agent:lock') ~= ARGV[3] then return -5 end
redis.call('DEL', p .. 'agent:lock')
return 1
`)

// Holder identifies the agent holding the lock; it is the lock's value, so
// that an agent refused can name the one that holds it.
type Holder struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
	// token tells this lock from any other, of the same process too.
	Token string `json:"token"`
}

func (h Holder) String() string {
	return fmt.Sprintf("pid %d on host %s, since %s", h.PID, h.Host, h.Since.Format(time.RFC3339))
}

// LockedError says that another agent holds the lock.
type LockedError struct {
	Addr, Prefix string
	Holder       Holder
	// Expires is how long the lock lasts if its holder stops refreshing it.
	Expires time.Duration
}

func (e *LockedError) Error() string {
	expiry := fmt.Sprintf("its lock expires by itself within %s", e.Expires.Round(time.Millisecond))
	if e.Expires <= 0 {
		// Set by hand without a TTL: it would never expire.
		expiry = fmt.Sprintf("its lock has no expiry: delete the key %s%s once you are sure that agent is gone", e.Prefix, lockKey)
	}
	return fmt.Sprintf("redis store: another agent uses the store at %s (prefix %q): %s. "+
		"Without a consul block only one agent may run on a store (agents share one as a cluster, with a consul block): stop that agent first; if it died, %s",
		e.Addr, e.Prefix, e.Holder, expiry)
}

// Lock is the agent lock, held and refreshed until Release or until lost.
type Lock struct {
	s     *Store
	value string
	ttl   time.Duration
	epoch uint64

	release sync.Once
	stop    chan struct{}
	done    chan struct{}
	lost    chan struct{}
	lostErr error
}

// Lock takes the agent lock for holder (its Token is set here) if no other
// agent holds it, claims the next fencing epoch, and keeps the lock by
// refreshing it every ttl/3. It fails with a *LockedError naming the holder
// when another agent has it.
func (s *Store) Lock(ctx context.Context, holder Holder, ttl time.Duration) (*Lock, error) {
	if ttl < MinLockTTL {
		return nil, fmt.Errorf("redis store: lock TTL %s is shorter than %s", ttl, MinLockTTL)
	}
	holder.Token = rand.Text()
	value, err := json.Marshal(holder)
	if err != nil {
		return nil, err
	}
	ms := strconv.FormatInt(ttl.Milliseconds(), 10)
	for attempt := 0; ; attempt++ {
		// The lease starts when the request leaves: the server's later.
		sent := time.Now()
		epoch, err := s.write(ctx, lockScript, value, ms)
		if errors.Is(err, errLocked) {
			// Released or expired since the script ran: try again.
			if held, ok := s.lockHolder(ctx); ok || attempt == 2 {
				return nil, held
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		l := &Lock{s: s, value: string(value), ttl: ttl, epoch: uint64(epoch),
			stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{})}
		go l.keep(sent)
		return l, nil
	}
}

// LockHolder says which agent holds the agent lock, if one does: the agents
// of a cluster refuse a store that an agent without a consul block uses.
func (s *Store) LockHolder(ctx context.Context) (*LockedError, bool) { return s.lockHolder(ctx) }

// lockHolder reads who holds the lock and for how long; ok is false when
// nobody does, or the holder cannot be read.
func (s *Store) lockHolder(ctx context.Context) (e *LockedError, ok bool) {
	pipe := s.client.Pipeline()
	get := pipe.Get(ctx, s.prefix+lockKey)
	ttl := pipe.PTTL(ctx, s.prefix+lockKey)
	_, _ = pipe.Exec(ctx)
	e = &LockedError{Addr: s.addr, Prefix: s.prefix, Expires: ttl.Val()}
	v, err := get.Result()
	if err != nil {
		return e, false
	}
	if json.Unmarshal([]byte(v), &e.Holder) != nil {
		e.Holder = Holder{Host: "(unreadable lock " + strconv.Quote(v) + ")"}
	}
	return e, true
}

// Epoch is the fencing epoch claimed with the lock: write through
// Store.Fence(ctx, Epoch()).
func (l *Lock) Epoch() uint64 { return l.epoch }

// Lost is closed when the lock is no longer held: another agent has it,
// it was deleted, or it could not be refreshed for a whole TTL (so it may
// have expired). Err then says why. The holder must stop writing.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err says why the lock was lost; nil while it is held.
func (l *Lock) Err() error {
	select {
	case <-l.lost:
		return l.lostErr
	default:
		return nil
	}
}

// keep refreshes the lock every ttl/3 until Release, and closes lost when
// a refresh finds the lock gone or the lease (from the last refresh sent
// that succeeded) runs out. A refresh stuck on a silent server does not
// delay that: the lease timer fires meanwhile.
func (l *Lock) keep(sent time.Time) {
	defer close(l.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lease := time.NewTimer(time.Until(sent.Add(l.ttl)))
	defer lease.Stop()
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	type result struct {
		sent time.Time
		err  error
	}
	results := make(chan result, 1)
	inFlight := false
	var lastErr error
	ms := strconv.FormatInt(l.ttl.Milliseconds(), 10)
	for {
		select {
		case <-l.stop:
			return
		case <-lease.C:
			l.lose(fmt.Errorf("redis store: the agent lock could not be refreshed for %s, so it may have expired and been taken by another agent (last error: %v)", l.ttl, lastErr))
			return
		case <-tick.C:
			if inFlight {
				continue
			}
			inFlight = true
			go func(sent time.Time) {
				_, err := l.s.write(ctx, refreshScript, l.value, ms)
				results <- result{sent, err}
			}(time.Now())
		case r := <-results:
			inFlight = false
			switch {
			case r.err == nil:
				if !lease.Stop() {
					select {
					case <-lease.C:
					default:
					}
				}
				lease.Reset(time.Until(r.sent.Add(l.ttl)))
			case errors.Is(r.err, errLocked):
				err := errors.New("redis store: the agent lock was lost: it expired or was deleted")
				if held, ok := l.s.lockHolder(ctx); ok {
					err = fmt.Errorf("redis store: the agent lock was lost: another agent holds it now, %s", held.Holder)
				}
				l.lose(err)
				return
			default:
				lastErr = r.err
			}
		}
	}
}

func (l *Lock) lose(err error) {
	l.lostErr = err
	close(l.lost)
}

// Release stops refreshing the lock and deletes it if it is still this
// holder's, so that another agent can start at once.
func (l *Lock) Release(ctx context.Context) error {
	first := false
	l.release.Do(func() { first = true; close(l.stop) })
	<-l.done
	if !first {
		return nil
	}
	if _, err := l.s.write(ctx, releaseScript, l.value); err != nil && !errors.Is(err, errLocked) {
		return fmt.Errorf("releasing the agent lock: %w", err)
	}
	return nil
}

// clusterKey marks a store that the agents of a cluster share: the leader
// keeps it, with its name, while it leads.
const clusterKey = "cluster:leader"

// MarkCluster records that the agent named leader leads the cluster that
// shares this store, for ttl: an agent without a consul block refuses the
// store while the mark lasts. The leader refreshes it.
func (s *Store) MarkCluster(ctx context.Context, leader string, ttl time.Duration) error {
	if err := s.client.Set(ctx, s.prefix+clusterKey, leader, ttl).Err(); err != nil {
		return fmt.Errorf("redis store: marking the store as a cluster's: %w", err)
	}
	return nil
}

// ClusterLeader names the leader of the cluster that shares this store, if
// a leader marked it recently.
func (s *Store) ClusterLeader(ctx context.Context) (string, bool) {
	v, err := s.client.Get(ctx, s.prefix+clusterKey).Result()
	return v, err == nil
}
