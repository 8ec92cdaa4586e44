//go:build !pam

package pam

import (
	"context"
	"testing"

	"github.com/shoenig/test/must"
)

// Without the pam tag the agent must be able to refuse `auth "pam"` with a
// message that says how to get it.
func TestNew_withoutPAMSupport(t *testing.T) {
	must.False(t, Available)
	a, err := New(Config{Service: "god"}, nil)
	must.Nil(t, a)
	must.ErrorIs(t, err, ErrNotBuilt)
	must.ErrorContains(t, err, "built without PAM support: build with -tags pam")

	var stub *Authenticator
	must.Eq(t, "pam", stub.Name())
	_, err = stub.Authenticate(context.Background(), "alice", "secret")
	must.ErrorIs(t, err, ErrNotBuilt)
	_, err = stub.Lookup(context.Background(), "alice")
	must.ErrorIs(t, err, ErrNotBuilt)
}
