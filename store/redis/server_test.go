package redis_test

import (
	"context"
	"os"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/godocker/god/store/redis/redistest"
)

// startServer starts a durable redis-server for the test, or skips (fails
// under CI) when it is not installed.
func startServer(t testing.TB, settings ...string) *redistest.Server {
	t.Helper()
	return redistest.Start(t, settings...)
}

// quietLogger drops go-redis's log lines: the tests kill servers on
// purpose, and the client logs every dial that fails after it.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	goredis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}
