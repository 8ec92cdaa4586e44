package agent

import (
	"fmt"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/plugins/auth"
)

// buildAuthenticators makes the password and key login methods of the
// config's auth blocks, in order.
func buildAuthenticators(cfg *config.Config) ([]auth.Authenticator, error) {
	var out []auth.Authenticator
	for _, b := range cfg.Auth {
		switch b.Method {
		case "local":
			out = append(out, localAuth{})
		default:
			return nil, fmt.Errorf("auth %q is not available in this build", b.Method)
		}
	}
	return out, nil
}
