package pam

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"

	"github.com/godocker/god/plugins/auth"
)

// errRoot marks uid 0, which this authenticator never returns.
var errRoot = errors.New("uid 0 (root) may not log in through PAM")

// lookupUser resolves login in the system user database (NSS). An unknown
// login is auth.ErrUnknownUser; a database that cannot answer is another
// error.
func lookupUser(login string) (*auth.Identity, error) {
	u, err := user.Lookup(login)
	if err != nil {
		if errors.As(err, new(user.UnknownUserError)) {
			return nil, auth.ErrUnknownUser
		}
		return nil, fmt.Errorf("looking up user %q in the system user database: %w", login, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("user %q: uid %q is not a number", login, u.Uid)
	}
	if uid == 0 {
		return nil, errRoot
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("user %q: gid %q is not a number", login, u.Gid)
	}
	id := &auth.Identity{Login: u.Username, UID: uid, GID: gid, Home: u.HomeDir}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: listing groups: %w", login, err)
	}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err != nil || n == gid || slices.Contains(id.Groups, n) {
			continue
		}
		id.Groups = append(id.Groups, n)
	}
	slices.Sort(id.Groups)
	for _, g := range append([]int{gid}, id.Groups...) {
		// A group without a name still counts by number; it just cannot
		// match an admin group or a volume ACL by name.
		if grp, err := user.LookupGroupId(strconv.Itoa(g)); err == nil {
			id.GroupNames = append(id.GroupNames, grp.Name)
		}
	}
	slices.Sort(id.GroupNames)
	id.GroupNames = slices.Compact(id.GroupNames)
	return id, nil
}
