// Package pin closes the window between checking a host path and the
// engine binding it into a container. The agent resolves a volume's path
// and checks it (no symbolic link where the user shapes it, inside the
// configured directory); the engine binds it later, by path, and a user who
// swapped a directory for a link in between would redirect the mount.
//
// Pin opens each checked path without following any link (openat2 with
// RESOLVE_NO_SYMLINKS: a link swapped in before the open is refused), makes
// sure the descriptor is the path that was checked, and binds that
// descriptor at a staging path only the agent can reach. The engine binds
// the staging path; the user can change nothing on the way. Once the
// container has started (its mounts are its own) the staging mounts go.
package pin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Root is the agent-owned directory that holds the staging mounts, one
// subdirectory per job: <root>/<job id>/<n>.
type Root struct {
	dir string
}

// Open prepares root (creating it, mode 0700) and removes what an agent
// that died left there. Propagation is left as the host has it: where the
// root is on a shared mount a staging mount appears in the peer
// namespaces too, and its unmount as well; a container's own mount of it
// is private (the Docker executor binds rprivate), so it stays.
func Open(dir string) (*Root, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	r := &Root{dir: dir}
	r.sweep()
	return r, nil
}

// Set is the staging mounts of one container.
type Set struct {
	dir string
}

// ErrChanged is returned when a path changed between its check and Pin.
var ErrChanged = errors.New("the path changed while it was being mounted")

// Pin binds each of sources, host paths already resolved and checked
// (absolute, without symbolic links), at a staging path, and returns the
// staging paths in the same order. A path that now goes through a link,
// or that is no longer where it was checked, is refused with ErrChanged.
func (r *Root) Pin(jobID int64, sources []string) (*Set, []string, error) {
	s := &Set{dir: filepath.Join(r.dir, strconv.FormatInt(jobID, 10))}
	// Left by an earlier try of this job's dispatch.
	s.Release()
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating staging dir: %w", err)
	}
	out := make([]string, len(sources))
	for i, src := range sources {
		staged, err := s.pin(i, src)
		if err != nil {
			s.Release()
			return nil, nil, err
		}
		out[i] = staged
	}
	return s, out, nil
}

func (s *Set) pin(i int, src string) (string, error) {
	if !filepath.IsAbs(src) || filepath.Clean(src) != src {
		return "", fmt.Errorf("pinning %q: not an absolute clean path", src)
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, src, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ELOOP) {
		return "", fmt.Errorf("%s: %w: it now goes through a symbolic link", src, ErrChanged)
	}
	if err != nil {
		return "", fmt.Errorf("opening %s: %w", src, err)
	}
	defer unix.Close(fd)
	self := "/proc/self/fd/" + strconv.Itoa(fd)
	// A rename since the check leaves no link to refuse: compare where
	// the descriptor is with where the path was.
	if at, err := os.Readlink(self); err != nil || at != src {
		return "", fmt.Errorf("%s: %w (it is now at %q)", src, ErrChanged, at)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	target := filepath.Join(s.dir, strconv.Itoa(i))
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(target, 0o700)
	} else {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return "", fmt.Errorf("creating staging mount point: %w", err)
	}
	// Through the descriptor: the mount is of what was opened.
	if err := unix.Mount(self, target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("binding %s at %s: %w", src, target, err)
	}
	return target, nil
}

// Release removes the staging mounts; the containers that bound them keep
// their own mounts. Releasing twice does nothing.
func (s *Set) Release() {
	if s == nil {
		return
	}
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		p := filepath.Join(s.dir, e.Name())
		_ = unix.Unmount(p, unix.MNT_DETACH)
		_ = os.Remove(p)
	}
	_ = os.Remove(s.dir)
}

// sweep releases every job's staging mounts.
func (r *Root) sweep() {
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		(&Set{dir: filepath.Join(r.dir, e.Name())}).Release()
	}
}
