package redis_test

import (
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/store"
	"github.com/godocker/god/store/redis"
	"github.com/godocker/god/store/storetest"
)

const lockTTL = time.Second

func holder(pid int) redis.Holder {
	return redis.Holder{Host: "node-" + strconv.Itoa(pid), PID: pid, Since: time.Now()}
}

// waitLost waits until l is lost and returns why.
func waitLost(t *testing.T, l *redis.Lock) error {
	t.Helper()
	select {
	case <-l.Lost():
		must.Error(t, l.Err())
		return l.Err()
	case <-time.After(10 * lockTTL):
		t.Fatal("the lock was not reported lost")
		return nil
	}
}

// TestLock: one holder at a time; the one refused learns who holds it; a
// release lets the next take it at once, with a greater fencing epoch that
// fences the previous holder's writes.
func TestLock(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	a := open(t, srv.Addr, "")
	defer a.Close()
	b := open(t, srv.Addr, "")
	defer b.Close()

	la, err := a.Lock(ctx, holder(101), lockTTL)
	must.NoError(t, err)
	must.EqOp(t, uint64(1), la.Epoch())
	va, err := a.Fence(ctx, la.Epoch())
	must.NoError(t, err)
	j := storetest.NewJob(1000, 1)
	must.NoError(t, va.Create(ctx, j))

	// Held across refreshes.
	time.Sleep(2 * lockTTL)
	must.NoError(t, la.Err())
	_, err = b.Lock(ctx, holder(202), lockTTL)
	var locked *redis.LockedError
	must.True(t, errors.As(err, &locked), must.Sprintf("%v", err))
	must.EqOp(t, 101, locked.Holder.PID)
	must.ErrorContains(t, err, "pid 101 on host node-101")
	must.ErrorContains(t, err, `another agent uses the store at `+srv.Addr+` (prefix "god:")`)
	must.ErrorContains(t, err, "stop that agent first")

	// Another prefix is another store, with its own lock.
	other := open(t, srv.Addr, "other:")
	defer other.Close()
	lo, err := other.Lock(ctx, holder(303), lockTTL)
	must.NoError(t, err)
	must.NoError(t, lo.Release(ctx))

	must.NoError(t, la.Release(ctx))
	must.NoError(t, la.Release(ctx), must.Sprint("a second release"))
	lb, err := b.Lock(ctx, holder(202), lockTTL)
	must.NoError(t, err)
	defer lb.Release(ctx)
	must.EqOp(t, uint64(2), lb.Epoch())
	_, err = b.Fence(ctx, lb.Epoch())
	must.NoError(t, err)
	j.Spec.Description = "written by a deposed holder"
	must.ErrorIs(t, va.Update(ctx, j), store.ErrFenced)

	_, err = a.Lock(ctx, holder(1), time.Millisecond)
	must.ErrorContains(t, err, "shorter than")
}

// TestLockExpires: a holder that died leaves its lock, which refuses others
// until its TTL runs out.
func TestLockExpires(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := open(t, srv.Addr, "")
	defer s.Close()
	dead, err := json.Marshal(holder(404))
	must.NoError(t, err)
	c := srv.Client(t)
	must.NoError(t, c.Set(ctx, "god:agent:lock", dead, 2*lockTTL).Err())

	_, err = s.Lock(ctx, holder(os.Getpid()), lockTTL)
	must.ErrorContains(t, err, "pid 404 on host node-404")
	must.ErrorContains(t, err, "if it died, its lock expires by itself within")
	must.NoError(t, c.Persist(ctx, "god:agent:lock").Err())
	_, err = s.Lock(ctx, holder(os.Getpid()), lockTTL)
	must.ErrorContains(t, err, "if it died, its lock has no expiry: delete the key god:agent:lock once you are sure that agent is gone")
	must.NoError(t, c.PExpire(ctx, "god:agent:lock", 2*lockTTL).Err())
	deadline := time.Now().Add(10 * lockTTL)
	for {
		l, err := s.Lock(ctx, holder(os.Getpid()), lockTTL)
		if err == nil {
			must.NoError(t, l.Release(ctx))
			break
		}
		must.ErrorContains(t, err, "pid 404")
		if time.Now().After(deadline) {
			t.Fatalf("the dead holder's lock did not expire: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLockLost: the holder learns that its lock is gone, deleted or taken
// by another, or that it could not refresh it for a whole TTL.
func TestLockLost(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()
	s := open(t, srv.Addr, "")
	defer s.Close()
	c := srv.Client(t)

	l, err := s.Lock(ctx, holder(1), lockTTL)
	must.NoError(t, err)
	must.NoError(t, c.Del(ctx, "god:agent:lock").Err())
	must.ErrorContains(t, waitLost(t, l), "the agent lock was lost: it expired or was deleted")
	must.NoError(t, l.Release(ctx))

	l, err = s.Lock(ctx, holder(1), lockTTL)
	must.NoError(t, err)
	usurper, err := json.Marshal(holder(505))
	must.NoError(t, err)
	must.NoError(t, c.Set(ctx, "god:agent:lock", usurper, 0).Err())
	must.ErrorContains(t, waitLost(t, l), "another agent holds it now, pid 505 on host node-505")
	must.NoError(t, l.Release(ctx))
	got, err := c.Get(ctx, "god:agent:lock").Result()
	must.NoError(t, err)
	must.EqOp(t, string(usurper), got, must.Sprint("a release leaves another holder's lock"))
	must.NoError(t, c.Del(ctx, "god:agent:lock").Err())

	l, err = s.Lock(ctx, holder(1), lockTTL)
	must.NoError(t, err)
	srv.Kill()
	must.ErrorContains(t, waitLost(t, l), "could not be refreshed for 1s")
	must.Error(t, l.Release(ctx), must.Sprint("the server is gone"))
}
