package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

// Volume paths: the administrator's prefix may hold links, the part a user
// shapes may not, and no substitution escapes the configured tree.
func TestResolveUserPath(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) string {
		full := filepath.Join(root, p)
		must.NoError(t, os.MkdirAll(full, 0o755))
		return full
	}
	link := func(target, p string) {
		must.NoError(t, os.Symlink(target, filepath.Join(root, p)))
	}
	mk("scratch/alice/data")
	mk("scratch/bob")
	mk("real-scratch/alice")
	mk("home/alice/data")
	mk("scratch/carol")
	link(filepath.Join(root, "scratch/bob"), "scratch/mallory") // mallory's dir points at bob's
	link("/etc", "scratch/carol/data")                          // carol's data points at /etc
	link(filepath.Join(root, "real-scratch"), "scratch-link")   // the admin's own link
	user := func(name string) api.User {
		return api.User{Name: name, UID: 23001, GID: 23001, Home: filepath.Join(root, "home", name)}
	}
	cases := []struct {
		name, tmpl string
		user       api.User
		want       string // resolved path relative to root, or "" for an error
		err        string
	}{
		{"plain", root + "/scratch/$USER", user("alice"), "scratch/alice", ""},
		{"below the variable", root + "/scratch/$USER/data", user("alice"), "scratch/alice/data", ""},
		{"braces", root + "/scratch/${USER}", user("alice"), "scratch/alice", ""},
		{"admin link in prefix", root + "/scratch-link/$USER", user("alice"), "real-scratch/alice", ""},
		{"home", "$HOME/data", user("alice"), "home/alice/data", ""},
		{"user dir is a link to another user's", root + "/scratch/$USER", user("mallory"), "", "symbolic link"},
		{"link below the user dir", root + "/scratch/$USER/data", user("carol"), "", "symbolic link"},
		{"dot-dot user", root + "/scratch/$USER", api.User{Name: "..", Home: "/"}, "", "cannot be used in a path"},
		{"slash in user", root + "/scratch/$USER", api.User{Name: "a/b", Home: "/"}, "", "cannot be used in a path"},
		{"unknown variable", root + "/scratch/$PATH", user("alice"), "", "unknown variable $PATH"},
		{"missing", root + "/scratch/$USER/nope", user("alice"), "", "not available"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveUserPath(tc.tmpl, tc.user)
			if tc.err != "" {
				must.ErrorContains(t, err, tc.err)
				return
			}
			must.NoError(t, err)
			must.Eq(t, filepath.Join(root, tc.want), got)
		})
	}
}

// The identity files give whoami, id and ~ something to resolve, and a name
// that could break the format is replaced.
func TestIdentityFiles(t *testing.T) {
	passwd, group := identityFiles(api.User{Name: "alice", UID: 23001, GID: 23001, Groups: []int{23100, 0}}, "/home/alice")
	must.StrContains(t, passwd, "alice:x:23001:23001:alice:/home/alice:/bin/bash\n")
	must.StrContains(t, passwd, "root:x:0:0:")
	must.StrContains(t, group, ":x:23100:alice\n")
	must.Eq(t, 1, strings.Count(group, ":x:0:"), must.Sprint("no duplicate gid 0"))

	passwd, _ = identityFiles(api.User{Name: "evil:x:0:0::/:/bin/sh\nroot2", UID: 23009, GID: 23009}, "/mnt/go-docker")
	must.StrContains(t, passwd, "u23009:x:23009:23009:u23009:/mnt/go-docker:/bin/bash\n")
	must.StrNotContains(t, passwd, "evil")
}
