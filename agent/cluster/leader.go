package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
)

var (
	// ErrNoLeader is returned by Leader while no agent holds the lock.
	ErrNoLeader = errors.New("no leader is elected")

	// The causes of a lost leadership, as context.Cause of the context
	// given to onElected.

	// ErrLockLost: the lock key no longer names our session (the session
	// was invalidated by Consul or an operator, or the key was changed).
	ErrLockLost = errors.New("the leader lock was lost")
	// ErrSessionExpired: no renewal succeeded for a whole session TTL, so
	// Consul may have invalidated the session (Consul unreachable).
	ErrSessionExpired = errors.New("the leader session could not be renewed within its TTL")
	// ErrSessionInvalidated: Consul says the session no longer exists.
	ErrSessionInvalidated = errors.New("the leader session was invalidated")
	// ErrSteppedDown: onElected returned or Lead's context ended.
	ErrSteppedDown = errors.New("the leader stepped down")
)

// leaderRecord is the value of the lock key while it is held.
type leaderRecord struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Epoch   uint64 `json:"epoch"`
}

// Lead takes part in the leader election until ctx ends. Each time this
// agent acquires the lock it claims a new epoch, greater than every epoch
// claimed before, and calls onElected with it. onElected's context is
// cancelled at once when the lock is lost (context.Cause says why) and
// onElected must then stop acting as leader and return; the lock is only
// released (or contended for again) after it has returned. If onElected
// returns by itself, this agent steps down, letting another one lead.
//
// The epoch is for fencing: a deposed leader may not notice at once, so
// writes made as leader must carry the epoch and the store must refuse
// those of an older one.
func (c *Cluster) Lead(ctx context.Context, onElected func(ctx context.Context, epoch uint64)) {
	backoff := retryMin
	for ctx.Err() == nil {
		led, err := c.campaign(ctx, onElected)
		switch {
		case ctx.Err() != nil:
			return
		case led:
			// Leave the others a chance if onElected gave up by itself.
			backoff = retryMin
		case err != nil:
			c.log.Warn("leader election failed; retrying", "error", err, "retry_in", backoff)
			backoff = min(2*backoff, retryMax)
		}
		sleep(ctx, backoff)
	}
}

// Retry bounds of Lead after errors (Consul unreachable, ACL refused).
const (
	retryMin = 500 * time.Millisecond
	retryMax = 15 * time.Second
)

// Leader says which agent leads and since which epoch; ErrNoLeader when
// none does.
func (c *Cluster) Leader(ctx context.Context) (name, address string, epoch uint64, err error) {
	pair, _, err := c.client.KV().Get(c.lockKey, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return "", "", 0, fmt.Errorf("consul: reading %s: %w", c.lockKey, err)
	}
	if pair == nil || pair.Session == "" {
		return "", "", 0, ErrNoLeader
	}
	var r leaderRecord
	if err := json.Unmarshal(pair.Value, &r); err != nil {
		return "", "", 0, fmt.Errorf("consul: %s does not hold a GoDocker leader record (is kv_prefix shared with something else?): %w", c.lockKey, err)
	}
	return r.Name, r.Address, r.Epoch, nil
}

// campaign runs one session: it waits for the lock, leads, and steps down.
// led says whether onElected was called.
func (c *Cluster) campaign(ctx context.Context, onElected func(context.Context, uint64)) (led bool, err error) {
	entry := &api.SessionEntry{
		Name:      "god leader election: " + c.cfg.NodeName,
		TTL:       c.cfg.SessionTTL.String(),
		LockDelay: c.cfg.LockDelay,
		Behavior:  api.SessionBehaviorRelease,
	}
	if check := c.schedulerCheck(); check != "" {
		// Tie the session to the scheduler's heartbeat: when a leader dies
		// its check goes critical after CheckTTL and Consul invalidates the
		// session at once, instead of after up to twice the session TTL.
		entry.NodeChecks = []string{"serfHealth"}
		entry.ServiceChecks = []api.ServiceCheck{{ID: check}}
	}
	session, _, err := c.client.Session().Create(entry, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("creating a session: %w", err)
	}

	// sessionCtx ends when the session may be gone; the renewer says why.
	sessionCtx, expire := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		c.renew(sessionCtx, session, expire)
	}()
	defer func() {
		expire(ErrSteppedDown)
		<-renewed
		c.destroy(ctx, session)
	}()

	epoch, err := c.acquire(sessionCtx, session)
	if err != nil {
		if cause := context.Cause(sessionCtx); ctx.Err() == nil && cause != nil {
			err = cause
		}
		return false, err
	}

	leaderCtx, depose := context.WithCancelCause(sessionCtx)
	monitored := make(chan struct{})
	go func() {
		defer close(monitored)
		c.monitor(leaderCtx, session, depose)
	}()
	c.log.Info("elected leader", "epoch", epoch)
	onElected(leaderCtx, epoch)
	depose(ErrSteppedDown)
	<-monitored

	cause := context.Cause(leaderCtx)
	if errors.Is(cause, ErrSteppedDown) || errors.Is(cause, context.Canceled) {
		// Released, not invalidated: no lock delay for the next leader.
		c.release(ctx, session)
		c.log.Info("stepped down", "epoch", epoch)
	} else {
		c.log.Warn("lost leadership", "epoch", epoch, "cause", cause)
	}
	return true, nil
}

// acquire waits until the lock is free, then takes it and claims the next
// epoch in one transaction.
func (c *Cluster) acquire(ctx context.Context, session string) (uint64, error) {
	var index uint64
	for {
		pair, meta, err := c.client.KV().Get(c.lockKey, (&api.QueryOptions{
			WaitIndex: index,
			WaitTime:  c.cfg.SessionTTL,
		}).WithContext(ctx))
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", c.lockKey, err)
		}
		if pair != nil && pair.Flags != api.LockFlagValue {
			return 0, fmt.Errorf("%s exists and is not a lock (flags %#x): delete it or choose another kv_prefix", c.lockKey, pair.Flags)
		}
		if pair != nil && pair.Session != "" && pair.Session != session {
			index = nextIndex(index, meta.LastIndex)
			continue
		}

		epoch, ok, err := c.lock(ctx, session)
		if err != nil {
			return 0, err
		}
		if ok {
			return epoch, nil
		}
		// Refused: the lock delay of a deposed leader runs, someone was
		// faster, or our session is gone.
		if info, _, err := c.client.Session().Info(session, (&api.QueryOptions{}).WithContext(ctx)); err == nil && info == nil {
			return 0, ErrSessionInvalidated
		}
		index = 0
		sleep(ctx, c.lockRetry())
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

// lockRetry is how often a free lock is tried while a lock delay runs.
func (c *Cluster) lockRetry() time.Duration {
	return min(max(c.cfg.LockDelay/10, 100*time.Millisecond), time.Second)
}

// lock takes the lock for session and increments the epoch by
// check-and-set, atomically: either both happen or neither.
func (c *Cluster) lock(ctx context.Context, session string) (epoch uint64, ok bool, err error) {
	cur, _, err := c.client.KV().Get(c.epochKey, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return 0, false, fmt.Errorf("reading %s: %w", c.epochKey, err)
	}
	var last, casIndex uint64 // index 0: create only if absent
	if cur != nil {
		if last, err = strconv.ParseUint(string(cur.Value), 10, 64); err != nil {
			return 0, false, fmt.Errorf("%s holds %q, not an epoch number: fix or delete it", c.epochKey, cur.Value)
		}
		casIndex = cur.ModifyIndex
	}
	epoch = last + 1
	record, err := json.Marshal(leaderRecord{Name: c.cfg.NodeName, Address: c.cfg.Advertise, Epoch: epoch})
	if err != nil {
		return 0, false, err
	}
	ok, resp, _, err := c.client.Txn().Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVLock, Key: c.lockKey, Value: record, Flags: api.LockFlagValue, Session: session}},
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: c.epochKey, Value: []byte(strconv.FormatUint(epoch, 10)), Index: casIndex}},
	}, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, false, fmt.Errorf("taking %s: %w", c.lockKey, err)
	}
	if !ok {
		for _, e := range resp.Errors {
			c.log.Debug("lock refused", "op", e.OpIndex, "reason", e.What)
		}
		return 0, false, nil
	}
	return epoch, true, nil
}

// renew keeps the session alive until ctx ends. It expires ctx when Consul
// says the session is gone, or when no renewal succeeded for a TTL: Consul
// invalidates a session between one and two TTLs after its last renewal,
// so a leader that stops after one TTL stops before anyone can take over.
func (c *Cluster) renew(ctx context.Context, session string, expire context.CancelCauseFunc) {
	ttl := c.cfg.SessionTTL
	deadline := time.Now().Add(ttl)
	wait := ttl / 3
	for {
		sleep(ctx, min(wait, time.Until(deadline)))
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		attempt, cancel := context.WithDeadline(ctx, deadline)
		entry, _, err := c.client.Session().Renew(session, (&api.WriteOptions{}).WithContext(attempt))
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && entry == nil:
			expire(ErrSessionInvalidated)
			return
		case err == nil:
			deadline = start.Add(ttl)
			wait = ttl / 3
		case !time.Now().Before(deadline):
			expire(fmt.Errorf("%w (last error: %v)", ErrSessionExpired, err))
			return
		default:
			c.log.Warn("renewing the leader session failed; retrying", "error", err, "expires_in", time.Until(deadline).Round(time.Millisecond))
			wait = time.Second
		}
	}
}

// monitor deposes the leader as soon as the lock key stops naming its
// session.
func (c *Cluster) monitor(ctx context.Context, session string, depose context.CancelCauseFunc) {
	var index uint64
	for {
		pair, meta, err := c.client.KV().Get(c.lockKey, (&api.QueryOptions{
			RequireConsistent: true,
			WaitIndex:         index,
			WaitTime:          c.cfg.SessionTTL,
		}).WithContext(ctx))
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The renewer decides when an unreachable Consul costs the lock.
			c.log.Debug("watching the leader lock failed; retrying", "error", err)
			index = 0
			sleep(ctx, time.Second)
			continue
		}
		if pair == nil || pair.Session != session {
			depose(ErrLockLost)
			return
		}
		index = nextIndex(index, meta.LastIndex)
	}
}

// release gives the lock up explicitly, which unlike a session
// invalidation imposes no lock delay on the next leader.
func (c *Cluster) release(ctx context.Context, session string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _, err := c.client.KV().Release(&api.KVPair{Key: c.lockKey, Flags: api.LockFlagValue, Session: session},
		(&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		c.log.Warn("releasing the leader lock failed; it ends with the session", "error", err)
	}
}

// destroy ends a session that is no longer needed (Consul would expire it
// anyway after its TTL).
func (c *Cluster) destroy(ctx context.Context, session string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := c.client.Session().Destroy(session, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		c.log.Debug("destroying the leader session failed; it will expire", "error", err)
	}
}

// nextIndex is the WaitIndex of the next blocking query, reset when
// Consul's index goes backwards (a snapshot restore, a new cluster).
func nextIndex(prev, last uint64) uint64 {
	if last < prev {
		return 0
	}
	return last
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// schedulerCheck is the id of this agent's scheduler heartbeat check, if
// Register registered the scheduler role.
func (c *Cluster) schedulerCheck() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reg := c.registered[RoleScheduler]; reg != nil && reg.Check != nil && reg.Check.TTL != "" {
		return reg.Check.CheckID
	}
	return ""
}
