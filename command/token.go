package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// savedToken is what `god login` keeps: the token and the one agent it
// may be sent to.
type savedToken struct {
	Address string    `json:"address"`
	Login   string    `json:"login"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
}

// expired reports whether the token is past its expiry at now.
func (t *savedToken) expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// tokenPath is where `god login` saves its token:
// $XDG_CONFIG_HOME/god/token.json, else ~/.config/god/token.json.
func tokenPath() (string, error) {
	// The XDG spec says a relative XDG_CONFIG_HOME is to be ignored.
	if dir := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "god", "token.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot tell where to keep the login token: %w (set HOME or XDG_CONFIG_HOME)", err)
	}
	return filepath.Join(home, ".config", "god", "token.json"), nil
}

// loadToken reads a saved token. It refuses a symbolic link, a file that
// is not the caller's, and one that others can access: such a token may
// not be the caller's own, or may already be someone else's too. A missing
// file is an error satisfying errors.Is(err, fs.ErrNotExist).
//
// When it refuses a file it could read, it returns the token too, so that
// a caller talking to another agent can tell the refusal is not its
// concern (root under sudo, with the user's HOME, say); the token must not
// be used. A file the caller may not read is an error satisfying
// errors.Is(err, fs.ErrPermission).
func loadToken(path string) (*savedToken, error) {
	// O_NONBLOCK: opening a FIFO planted there must not hang; it changes
	// nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("refusing to use the token file %s: it is a symbolic link; delete it and run `god login` again", path)
	}
	if errors.Is(err, fs.ErrPermission) {
		why := ""
		if fi, lerr := os.Lstat(path); lerr == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
				why = fmt.Sprintf(" (it belongs to uid %d, not to you: are HOME or XDG_CONFIG_HOME another user's?)", st.Uid)
			}
		}
		return nil, fmt.Errorf("cannot read the token file %s: %w%s", path, fs.ErrPermission, why)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	unsafe := checkPrivate(path, fi)
	if !fi.Mode().IsRegular() {
		return nil, unsafe
	}
	var t savedToken
	dec := json.NewDecoder(io.LimitReader(f, 1<<20))
	if err := dec.Decode(&t); err != nil {
		if unsafe != nil {
			return nil, unsafe
		}
		return nil, fmt.Errorf("reading the token file %s: %w; delete it and run `god login` again", path, err)
	}
	if unsafe != nil {
		return &t, unsafe
	}
	if t.Address == "" || t.Token == "" {
		return nil, fmt.Errorf("reading the token file %s: it has no address or no token; delete it and run `god login` again", path)
	}
	return &t, nil
}

// exposedError refuses the caller's own token file for being open to
// others. `god logout` still revokes such a token: it may have leaked.
type exposedError struct {
	path string
	perm os.FileMode
}

func (e *exposedError) Error() string {
	return fmt.Sprintf("refusing to use the token file %s: group or others may access it (mode %#o); run `chmod 600 %s`, or delete it and run `god login` again", e.path, e.perm, e.path)
}

// checkPrivate refuses a token file that is not a plain file owned by the
// caller and closed to group and others.
func checkPrivate(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("refusing to use the token file %s: it is not a plain file; delete it and run `god login` again", path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("refusing to use the token file %s: it belongs to uid %d, not to you (uid %d); delete it and run `god login` again", path, st.Uid, os.Getuid())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &exposedError{path: path, perm: perm}
	}
	return nil
}

// saveToken writes t to path, mode 0600 in a directory of mode 0700, by
// writing a temporary file beside it and renaming it over path: a reader
// sees the old token or the new one, never half of one. It refuses to
// replace a symbolic link, which could point anywhere.
func saveToken(path string, t *savedToken) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st, ok := di.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("refusing to save the token in %s: the directory belongs to uid %d, not to you (uid %d)", dir, st.Uid, os.Getuid())
	}
	// The directory is god's own: close it if it was created open.
	if di.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("making %s private: %w", dir, err)
		}
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("refusing to save the token: %s is a symbolic link; delete it and run `god login` again", path)
	}
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".token-*.json") // mode 0600, O_EXCL
	if err != nil {
		return fmt.Errorf("saving the token: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("saving the token to %s: %w", path, err)
	}
	// Make the rename itself durable; failing that is not worth an error.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// sameAddress tells whether two agent addresses name the same agent, as
// written: scheme and host case and a trailing slash do not count. Tokens
// are only ever sent to the address they were issued by.
func sameAddress(a, b string) bool {
	return normalAddress(a) == normalAddress(b)
}

func normalAddress(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u.String()
}
