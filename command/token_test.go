package command

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoenig/test/must"
)

// useConfigDir points tokenPath at a fresh directory for one test.
func useConfigDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	path, err := tokenPath()
	must.NoError(t, err)
	must.Eq(t, filepath.Join(dir, "god", "token.json"), path)
	return path
}

func sampleToken(address string) *savedToken {
	return &savedToken{Address: address, Login: "alice", Token: "tok-alice", Expires: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
}

func TestTokenPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "relative/dir") // ignored, as the XDG spec says
	t.Setenv("HOME", "/home/someone")
	path, err := tokenPath()
	must.NoError(t, err)
	must.Eq(t, "/home/someone/.config/god/token.json", path)
}

// The token is private (file 0600 in a 0700 directory, even one created
// open before), reads back as written, and is replaced by a rename: a
// second save never writes into the old file.
func TestSaveToken_PrivateAndAtomic(t *testing.T) {
	path := useConfigDir(t)
	must.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must.NoError(t, os.Chmod(filepath.Dir(path), 0o755))

	first := sampleToken("http://agent:6543")
	must.NoError(t, saveToken(path, first))
	fi, err := os.Stat(path)
	must.NoError(t, err)
	must.Eq(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(path))
	must.NoError(t, err)
	must.Eq(t, os.FileMode(0o700), di.Mode().Perm())
	got, err := loadToken(path)
	must.NoError(t, err)
	must.Eq(t, first, got)

	// A hard link to the first file keeps the first token after the
	// second save: the new token went to a new file renamed over the path.
	old := filepath.Join(filepath.Dir(path), "old.json")
	must.NoError(t, os.Link(path, old))
	second := sampleToken("http://agent:6543")
	second.Token = "tok-second"
	must.NoError(t, saveToken(path, second))
	got, err = loadToken(path)
	must.NoError(t, err)
	must.Eq(t, "tok-second", got.Token)
	kept, err := os.ReadFile(old)
	must.NoError(t, err)
	must.StrContains(t, string(kept), "tok-alice")
	must.NoError(t, os.Remove(old))

	// No temporary file is left behind.
	entries, err := os.ReadDir(filepath.Dir(path))
	must.NoError(t, err)
	must.SliceLen(t, 1, entries)
	must.Eq(t, "token.json", entries[0].Name())
}

// A symbolic link at the token's path is neither written through nor
// replaced, nor read.
func TestToken_SymlinkRefused(t *testing.T) {
	path := useConfigDir(t)
	must.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	must.NoError(t, os.WriteFile(target, []byte("precious"), 0o600))
	must.NoError(t, os.Symlink(target, path))

	err := saveToken(path, sampleToken("http://agent:6543"))
	must.ErrorContains(t, err, "symbolic link")
	data, err := os.ReadFile(target)
	must.NoError(t, err)
	must.Eq(t, "precious", string(data))
	fi, err := os.Lstat(path)
	must.NoError(t, err)
	must.True(t, fi.Mode()&os.ModeSymlink != 0)

	_, err = loadToken(path)
	must.ErrorContains(t, err, "symbolic link")
}

// A token file others can read, or that is not the caller's, is refused
// with the fix.
func TestLoadToken_RefusesUnsafeFiles(t *testing.T) {
	path := useConfigDir(t)
	must.NoError(t, saveToken(path, sampleToken("http://agent:6543")))

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		must.NoError(t, os.Chmod(path, mode))
		_, err := loadToken(path)
		must.ErrorContains(t, err, "group or others may access it")
		must.ErrorContains(t, err, "chmod 600 "+path)
	}
	must.NoError(t, os.Chmod(path, 0o600))
	_, err := loadToken(path)
	must.NoError(t, err)

	if os.Getuid() != 0 {
		t.Log("skipping the ownership case: giving a file to another user needs root")
		return
	}
	must.NoError(t, os.Chown(path, 65534, 65534))
	_, err = loadToken(path)
	must.ErrorContains(t, err, "belongs to uid 65534, not to you")
	must.NoError(t, os.Chown(path, 0, 0))

	// A file that is not a plain file (a FIFO) is refused without reading.
	must.NoError(t, os.Remove(path))
	must.NoError(t, syscall.Mkfifo(path, 0o600))
	_, err = loadToken(path)
	must.ErrorContains(t, err, "not a plain file")
}

func TestLoadToken_Garbage(t *testing.T) {
	path := useConfigDir(t)
	must.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	must.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, err := loadToken(path)
	must.ErrorContains(t, err, "delete it and run `god login` again")
	must.NoError(t, os.WriteFile(path, []byte(`{"address":"http://a"}`), 0o600))
	_, err = loadToken(path)
	must.ErrorContains(t, err, "no address or no token")
}

func TestSameAddress(t *testing.T) {
	same := [][2]string{
		{"http://agent:6543", "http://agent:6543/"},
		{"HTTP://Agent:6543", "http://agent:6543"},
		{"unix:///run/god/god.sock", "unix:///run/god/god.sock"},
	}
	for _, p := range same {
		must.True(t, sameAddress(p[0], p[1]), must.Sprint(p))
	}
	different := [][2]string{
		{"http://agent:6543", "https://agent:6543"},
		{"http://agent:6543", "http://agent:6544"},
		{"http://agent:6543", "http://agent.evil:6543"},
		{"http://agent:6543/a", "http://agent:6543/b"},
		{"unix:///run/god/god.sock", "unix:///tmp/god-dev/god.sock"},
	}
	for _, p := range different {
		must.False(t, sameAddress(p[0], p[1]), must.Sprint(p))
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"2026-11-01T09:00:00Z": time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
	}
	for in, want := range cases {
		got, err := parseSince(in, now)
		must.NoError(t, err, must.Sprint(in))
		must.True(t, want.Equal(got), must.Sprintf("%s: got %s, want %s", in, got, want))
	}
	for _, bad := range []string{"yesterday", "-1h", "7days", "2026-11-01", ""} {
		_, err := parseSince(bad, now)
		must.Error(t, err, must.Sprint(bad))
		must.True(t, strings.Contains(err.Error(), "RFC 3339"))
	}
}
