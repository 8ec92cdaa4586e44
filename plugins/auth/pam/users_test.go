package pam

import (
	"errors"
	"slices"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/auth"
)

func TestLookupUser_matchesTheSystemDatabase(t *testing.T) {
	u := someUser(t)
	w := oracle(t, u.Login)

	id, err := lookupUser(u.Login)
	must.NoError(t, err)
	must.Eq(t, u.Login, id.Login)
	must.Eq(t, w.UID, id.UID)
	must.Eq(t, w.GID, id.GID)
	must.Eq(t, w.Groups, id.Groups)
	must.Eq(t, w.GroupNames, id.GroupNames)
	must.Eq(t, w.Home, id.Home)
	if u.Extra != "" {
		must.SliceContains(t, id.GroupNames, u.Extra)
		must.SliceContains(t, id.GroupNames, u.Login) // the user's own group, primary
		must.Eq(t, 1, len(id.Groups))
		must.False(t, slices.Contains(id.Groups, id.GID))
	}
}

func TestLookupUser_refusesRoot(t *testing.T) {
	_, err := lookupUser("root")
	must.ErrorIs(t, err, errRoot)
}

func TestLookupUser_unknown(t *testing.T) {
	_, err := lookupUser("godpam-nobody-" + randomHex(t, 4))
	must.ErrorIs(t, err, auth.ErrUnknownUser)
	must.False(t, errors.Is(err, errRoot))
}
