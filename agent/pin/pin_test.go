package pin

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/shoenig/test/must"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs the pin tests as root")
		}
		t.Skip("skipping: bind mounts need root")
	}
}

// The staged path is what was checked: a directory swapped for a link to
// a secret after Pin changes nothing behind it; one swapped before Pin,
// or renamed away, is refused; files pin too; Release unmounts.
func TestPin(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	r, err := Open(filepath.Join(base, "pins"))
	must.NoError(t, err)
	user := filepath.Join(base, "user")
	secret := filepath.Join(base, "secret")
	for _, d := range []string{user, secret} {
		must.NoError(t, os.MkdirAll(d, 0o755))
	}
	must.NoError(t, os.WriteFile(filepath.Join(secret, "f"), []byte("secret"), 0o600))
	data := filepath.Join(user, "data")
	must.NoError(t, os.Mkdir(data, 0o755))
	must.NoError(t, os.WriteFile(filepath.Join(data, "f"), []byte("mine"), 0o644))
	file := filepath.Join(user, "single")
	must.NoError(t, os.WriteFile(file, []byte("one file"), 0o644))

	set, staged, err := r.Pin(7, []string{data, file})
	must.NoError(t, err)
	must.SliceLen(t, 2, staged)
	// The swap comes after the check and the pin: too late.
	must.NoError(t, os.Rename(data, data+".old"))
	must.NoError(t, os.Symlink(secret, data))
	got, err := os.ReadFile(filepath.Join(staged[0], "f"))
	must.NoError(t, err)
	must.Eq(t, "mine", string(got))
	got, err = os.ReadFile(staged[1])
	must.NoError(t, err)
	must.Eq(t, "one file", string(got))
	set.Release()
	_, err = os.Stat(staged[0])
	must.True(t, os.IsNotExist(err), must.Sprint("released"))

	// Swapped before the pin: refused, nothing staged.
	_, _, err = r.Pin(8, []string{data})
	must.True(t, errors.Is(err, ErrChanged), must.Sprintf("got %v", err))
	entries, _ := os.ReadDir(filepath.Join(base, "pins"))
	must.SliceEmpty(t, entries)
	// A link further up the path, too.
	must.NoError(t, os.Remove(data))
	must.NoError(t, os.Rename(data+".old", data))
	must.NoError(t, os.Rename(user, user+".real"))
	must.NoError(t, os.Symlink(user+".real", user))
	_, _, err = r.Pin(9, []string{data})
	must.True(t, errors.Is(err, ErrChanged), must.Sprintf("got %v", err))
}

// What an agent killed between Pin and Release left is swept at Open.
func TestOpenSweeps(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	dir := filepath.Join(base, "pins")
	r, err := Open(dir)
	must.NoError(t, err)
	src := filepath.Join(base, "src")
	must.NoError(t, os.Mkdir(src, 0o755))
	_, staged, err := r.Pin(1, []string{src})
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(filepath.Join(staged[0], "x"), nil, 0o644)) // written through the mount
	_, err = Open(dir)
	must.NoError(t, err)
	entries, _ := os.ReadDir(dir)
	must.SliceEmpty(t, entries)
	_, err = os.Stat(filepath.Join(src, "x"))
	must.NoError(t, err, must.Sprint("the source keeps what was written through the mount"))
}
