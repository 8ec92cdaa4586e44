package oidc

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
)

// GuestPrefix starts every guest login. The colon separates fields in
// /etc/passwd, so no Unix login can contain it: a guest can never be taken
// for a local user, nor a local user for a guest.
const GuestPrefix = "guest:"

// guestIDLen is the length of a guest ID: 16 base32 characters carry 80
// bits, far beyond any chance collision among a site's guests.
const guestIDLen = 16

// GuestLogin returns a guest's login name, "guest:" followed by its ID, and
// the ID alone: lowercase letters and digits, safe as a directory name under
// the guests' home root. Both depend only on the issuer and subject, which
// never change for one account, unlike its email or name.
func GuestLogin(c *Claims) (login, homeID string) {
	h := sha256.New()
	// Length prefixes keep ("ab", "c") and ("a", "bc") apart.
	for _, s := range []string{c.Issuer, c.Subject} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.Sum(nil))
	homeID = strings.ToLower(enc[:guestIDLen])
	return GuestPrefix + homeID, homeID
}

// IsGuestLogin reports whether login names a guest.
func IsGuestLogin(login string) bool {
	return strings.HasPrefix(login, GuestPrefix)
}
