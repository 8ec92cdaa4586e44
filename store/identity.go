package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/godocker/god/internal/lazy"
)

// Identity names one store. Every store gets a random ID when it is
// created, kept in the store itself: executors put it in the names and
// labels of what they create for its jobs, so that an agent acts only on
// its own store's containers (a fresh store on an engine where another
// store's containers live must not take job 1's container for its job 1).
type Identity struct {
	// ID is 16 lower-case hex digits (64 random bits).
	ID string `json:"id"`
	// LegacyMaxJob is, for a store created before stores had an identity,
	// the last job id it had assigned when it got one: the containers of
	// those jobs carry the old names (without the ID) and are still
	// recognised, for one release. 0 for a store created with its ID.
	LegacyMaxJob int64 `json:"legacy_max_job,omitempty"`
}

// Short is the ID's first 8 digits, for names that must stay short
// (container and Nomad job names); labels carry the whole ID.
func (i Identity) Short() string {
	if len(i.ID) < 8 {
		return i.ID
	}
	return i.ID[:8]
}

// Legacy reports whether job id may have a container of the old naming.
func (i Identity) Legacy(jobID int64) bool { return jobID > 0 && jobID <= i.LegacyMaxJob }

var identityRe = lazy.Regexp(`^[0-9a-f]{16}$`)

// Check refuses an identity a store could not have made.
func (i Identity) Check() error {
	if !identityRe().MatchString(i.ID) {
		return fmt.Errorf("invalid store id %q: want 16 hex digits", i.ID)
	}
	if i.LegacyMaxJob < 0 {
		return fmt.Errorf("invalid store identity: legacy_max_job %d", i.LegacyMaxJob)
	}
	return nil
}

// NewID returns a random store ID.
func NewID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand never fails
	return hex.EncodeToString(b)
}
