//go:build !pam

package pam

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/godocker/god/plugins/auth"
)

// Available reports whether this binary was built with PAM support (the
// `pam` build tag). It is false here: New always fails.
const Available = false

// Authenticator is the PAM authenticator; this build has none.
type Authenticator struct{}

var _ auth.Authenticator = (*Authenticator)(nil)

// New returns ErrNotBuilt: this binary was built without the `pam` tag.
func New(Config, hclog.Logger) (*Authenticator, error) { return nil, ErrNotBuilt }

// Name implements auth.Authenticator.
func (*Authenticator) Name() string { return "pam" }

// Authenticate implements auth.Authenticator; it always fails with ErrNotBuilt.
func (*Authenticator) Authenticate(context.Context, string, string) (*auth.Identity, error) {
	return nil, ErrNotBuilt
}

// Lookup implements auth.Authenticator; it always fails with ErrNotBuilt.
func (*Authenticator) Lookup(context.Context, string) (*auth.Identity, error) {
	return nil, ErrNotBuilt
}
