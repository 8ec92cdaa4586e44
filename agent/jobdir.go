package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/agent/identity"
	"github.com/godocker/god/api"
	"github.com/godocker/god/job"
	"github.com/godocker/god/plugins/auth"
	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/store"
	"slices"
)

// ContainerJobDir is where the job directory appears in the container
// (Go-Docker's contract).
const ContainerJobDir = "/mnt/go-docker"

// wrapper is the container's entrypoint script. It runs the user's cmd.sh
// with stdout in god.log and stderr in god.err, and records the real start,
// end and exit code in god.info, using only bash builtins so that it works in
// any image that has bash.
//
// A stop sends SIGTERM to the container's init, which passes it to this
// script only: the script passes it on to every process of the job (kill
// -1 reaches all the processes it may signal but itself and init), so that
// the job can end cleanly within its kill timeout; cmd.sh runs in the
// background because bash runs a trap only between commands. A wait cut
// short by the trap is waited again (bash keeps the status of a job that
// ended meanwhile), so the code recorded is cmd.sh's own; 127 there means
// nothing was left to wait for.
const wrapper = `cd /mnt/go-docker || exit 125
printf 'start=%(%s)T\n' -1 > god.info
trap 'stopping=1; kill -TERM -1 2>/dev/null' TERM INT
/mnt/go-docker/cmd.sh > god.log 2> god.err &
job=$!
wait "$job"
rc=$?
while [ -n "$stopping" ] && [ "$rc" -gt 128 ]; do
  stopping=
  wait "$job"
  r=$?
  [ "$r" -eq 127 ] || rc=$r
done
printf 'end=%(%s)T\nexit=%d\n' -1 "$rc" >> god.info
exit "$rc"
`

// jobDir is the host path of a job's directory.
func (a *Agent) jobDir(id int64) string {
	return filepath.Join(a.cfg.SharedDir, "jobs", strconv.FormatInt(id, 10))
}

// identityDir writes the passwd and group files bound into a job's
// container, once per distinct content: jobs of the same user share them.
// They live outside the job directory, owned by the agent, so the user
// cannot swap them.
func (a *Agent) identityDir(passwd, group string) (string, error) {
	sum := sha256.Sum256([]byte(passwd + "\x00" + group))
	dir := filepath.Join(a.cfg.SharedDir, "etc", hex.EncodeToString(sum[:12]))
	if _, err := os.Lstat(filepath.Join(dir, "group")); err == nil {
		return dir, nil
	}
	// Written under a temporary name and renamed, so that a job never sees
	// a half-written identity.
	tmp, err := os.MkdirTemp(filepath.Join(a.cfg.SharedDir, "etc"), ".new-")
	if err != nil {
		return "", fmt.Errorf("creating identity files: %w", err)
	}
	defer os.RemoveAll(tmp)
	for name, content := range map[string]string{"passwd": passwd, "group": group} {
		if err := writeFileNoFollow(filepath.Join(tmp, name), []byte(content), 0o644, os.Geteuid(), os.Getegid()); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		return "", fmt.Errorf("creating identity files: %w", err)
	}
	return dir, nil
}

// prepareSharedDir creates the agent-owned roots of the shared directory.
func (a *Agent) prepareSharedDir() error {
	for _, d := range []string{a.cfg.SharedDir, filepath.Join(a.cfg.SharedDir, "jobs"), filepath.Join(a.cfg.SharedDir, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating shared dir: %w", err)
		}
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("shared dir %s must be a directory writable only by the agent (mode 0755)", d)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("shared dir %s must be owned by the agent's user (uid %d), not uid %d", d, os.Geteuid(), st.Uid)
		}
	}
	return a.claimJobDirs()
}

// storeMark names, in <shared_dir>/jobs, the store whose jobs have their
// directories there. Job directories are named by job id only (Go-Docker's
// <shared_dir>/jobs/<id>), so a new store (a data dir started afresh) on
// the same shared_dir would give its job 1 the directory another user's
// job 1 left, files included.
const storeMark = ".god-store"

// claimJobDirs makes sure the job directories are this store's: it marks
// the jobs directory of a new store, or of a store from before identities
// (its directories are its own), and refuses a directory that another
// store marked, or that holds directories of unknown origin.
func (a *Agent) claimJobDirs() error {
	idf, ok := a.store.(store.Identified)
	if !ok {
		return fmt.Errorf("the job store %T has no identity", a.store)
	}
	ident := idf.Identity()
	jobs := filepath.Join(a.cfg.SharedDir, "jobs")
	mark := filepath.Join(jobs, storeMark)
	b, err := os.ReadFile(mark)
	switch {
	case err == nil && strings.TrimSpace(string(b)) == ident.ID:
		return nil
	case err == nil:
		return fmt.Errorf("shared_dir %s holds the job directories of another job store (id %s); this agent's store is %s (a new data_dir or store prefix?): set shared_dir to another directory, or move %s away", a.cfg.SharedDir, strings.TrimSpace(string(b)), ident.ID, jobs)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading %s: %w", mark, err)
	}
	if ident.LegacyMaxJob == 0 {
		entries, err := os.ReadDir(jobs)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), storeMark) { // another agent's mark being written
				return fmt.Errorf("shared_dir %s holds job directories (%s...) that this new job store (id %s) did not make: set shared_dir to another directory, or move %s away", a.cfg.SharedDir, e.Name(), ident.ID, jobs)
			}
		}
	}
	// Written aside and renamed: the agents of a cluster may race here,
	// with the same content.
	tmp := fmt.Sprintf("%s.%d", mark, os.Getpid())
	if err := writeFileNoFollow(tmp, []byte(ident.ID+"\n"), 0o644, os.Geteuid(), os.Getegid()); err != nil {
		return err
	}
	return os.Rename(tmp, mark)
}

// prepare writes the job directory and the identity files, and returns the
// task to hand to the executor. It is idempotent: a dispatch retried after a
// crash rewrites the same files.
func (a *Agent) prepare(j *job.Job) (*executor.Task, error) {
	u := j.User
	dir := a.dirOf(j)
	var arr *job.Array
	if j.ParentID != 0 {
		// The array's directory is the agent's: a user who could rename
		// entries there could swap a task directory for a link.
		parent, err := a.store.Get(context.Background(), j.ParentID)
		if err != nil || parent.Array == nil {
			return nil, fmt.Errorf("reading array %d of task: %v", j.ParentID, err)
		}
		arr = parent.Array
		if err := os.Mkdir(filepath.Dir(dir), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creating array directory: %w", err)
		}
	}
	if err := os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
		// Made before (a retried dispatch, a rerun): refuse anything but a
		// real directory (never follow a planted symlink). One just made
		// is one: only the agent can add entries to its parent.
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("job directory %s is not a directory", dir)
		}
	} else if err != nil {
		return nil, fmt.Errorf("creating job directory: %w", err)
	}
	// A root job's directory belongs to root while it runs: the user must
	// not reach, from the host, what root writes there (a setuid copy of a
	// shell, say). giveBack returns it when the job ends.
	dirUID, dirGID := u.UID, u.GID
	if j.Spec.Root {
		dirUID, dirGID = 0, 0
	}
	if err := os.Lchown(dir, dirUID, dirGID); err != nil {
		return nil, fmt.Errorf("giving the job directory to %s: %w", u.Name, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	script := j.Spec.Script
	if script == "" {
		script = "#!/bin/bash\n" + j.Spec.Command + "\n"
	}
	if err := writeFileNoFollow(filepath.Join(dir, "cmd.sh"), []byte(script), 0o755, dirUID, dirGID); err != nil {
		return nil, err
	}

	home := ContainerJobDir
	var mounts []executor.Mount
	groupNames, err := a.groupsOf(context.Background(), u)
	if err != nil {
		return nil, err
	}
	for _, name := range j.Spec.Volumes {
		m, err := a.resolveVolume(name, u, groupNames, projectOf(j))
		if err != nil {
			return nil, &prepareError{err}
		}
		m.UserPath = true
		if name == "home" {
			home = m.Target
		}
		mounts = append(mounts, m)
	}
	if j.Spec.Root {
		for i := range mounts {
			mounts[i].ReadOnly = true
		}
	}

	etc, err := a.identityDir(identityFiles(u, home))
	if err != nil {
		return nil, err
	}
	mounts = append([]executor.Mount{
		{Source: dir, Target: ContainerJobDir},
		{Source: filepath.Join(etc, "passwd"), Target: "/etc/passwd", ReadOnly: true},
		{Source: filepath.Join(etc, "group"), Target: "/etc/group", ReadOnly: true},
	}, mounts...)

	uid, gid, groups := u.UID, u.GID, u.Groups
	if j.Spec.Root {
		uid, gid, groups = 0, 0, nil
	}
	env := []string{
		"GODOCKER_JID=" + strconv.FormatInt(j.ID, 10),
		"GODOCKER_PWD=" + ContainerJobDir,
		"GODOCKER_HOME=" + home,
		"HOME=" + home,
		"USER=" + safeName(u.Name, "u", u.UID),
		"LOGNAME=" + safeName(u.Name, "u", u.UID),
	}
	if arr != nil {
		env = append(env, taskEnv(j, arr)...)
	}
	for k, v := range j.Spec.Env {
		env = append(env, k+"="+v)
	}
	return &executor.Task{
		JobID:       j.ID,
		Owner:       u.UID,
		Name:        j.Spec.Name,
		Image:       j.Spec.Image,
		Entrypoint:  []string{"/bin/bash", "-c", wrapper},
		Env:         env,
		WorkDir:     ContainerJobDir,
		UID:         uid,
		GID:         gid,
		Groups:      groups,
		Mounts:      mounts,
		CPU:         j.CPU,
		Memory:      j.Memory,
		GPUs:        j.GPU,
		AvoidNodes:  a.avoidNodes(j),
		KillTimeout: j.KillTimeout,
	}, nil
}

func (a *Agent) avoidNodes(j *job.Job) []string {
	if !a.cfg.AvoidFailedNodes {
		return nil
	}
	return j.FailedNodes
}

// identityFiles builds /etc/passwd and /etc/group for the container so that
// whoami, id and ~ resolve without useradd and without changing the image.
func identityFiles(u api.User, home string) (passwd, group string) {
	var p, g strings.Builder
	p.WriteString("root:x:0:0:root:/root:/bin/bash\n")
	if u.UID != 65534 {
		p.WriteString("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
	}
	if u.UID != 0 {
		fmt.Fprintf(&p, "%s:x:%d:%d:%s:%s:/bin/bash\n", safeName(u.Name, "u", u.UID), u.UID, u.GID, safeName(u.Name, "u", u.UID), home)
	}
	seen := map[int]bool{0: true, 65534: true}
	g.WriteString("root:x:0:\nnogroup:x:65534:\n")
	for _, gid := range append([]int{u.GID}, u.Groups...) {
		if seen[gid] {
			continue
		}
		seen[gid] = true
		members := ""
		if gid != u.GID {
			members = safeName(u.Name, "u", u.UID)
		}
		fmt.Fprintf(&g, "%s:x:%d:%s\n", safeName(identity.GroupName(gid), "g", gid), gid, members)
	}
	return p.String(), g.String()
}

// safeName keeps a name that cannot break the colon-separated format.
func safeName(name, prefix string, id int) string {
	if name == "" || strings.ContainsAny(name, ":\n\r\x00,") {
		return prefix + strconv.Itoa(id)
	}
	return name
}

// writeFileNoFollow replaces path with content without following a symlink
// the user may have planted there.
func writeFileNoFollow(path string, content []byte, mode os.FileMode, uid, gid int) error {
	// Usually the file is new: O_EXCL creates it, or fails on anything
	// already there, a symlink included, without a stat first.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
	if errors.Is(err, fs.ErrExist) {
		if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("replacing %s: %w", path, err)
			}
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, mode)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = f.Write(content)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Chown(uid, gid)
	}
	return errors.Join(err, f.Close())
}

// resolveVolume turns a volume name into a host mount for user u. The
// resolved host path must stay inside the configured path (no traversal
// through the user's name, no symlink escape).
//
// Volumes with users, groups or projects lists are for those only: the
// check runs at submit and again at dispatch, so a user removed from a
// group since cannot mount its data.
func (a *Agent) resolveVolume(name string, u api.User, groups []string, project string) (executor.Mount, error) {
	if name == "home" {
		if u.Home == "" || !filepath.IsAbs(u.Home) {
			return executor.Mount{}, fmt.Errorf("volume home: user %s has no home directory", u.Name)
		}
		real, err := filepath.EvalSymlinks(u.Home)
		if err != nil {
			return executor.Mount{}, fmt.Errorf("volume home: your home directory %s is not available on this host: %w", u.Home, err)
		}
		return executor.Mount{Source: real, Target: u.Home}, nil
	}
	if r := a.volumeResolver(); r != nil {
		return a.pluginVolume(r, name, u, groups)
	}
	v, err := a.volumeDef(name)
	if err != nil {
		return executor.Mount{}, fmt.Errorf("volume %s: %w", name, err)
	}
	if v != nil {
		if !volumeACL(v, u.Name, groups, project) {
			return executor.Mount{}, fmt.Errorf("volume %s is not for you: it is reserved to %s", name, aclText(v))
		}
		real, err := resolveUserPath(v.Path, u)
		if err != nil {
			return executor.Mount{}, fmt.Errorf("volume %s: %w", name, err)
		}
		return executor.Mount{Source: real, Target: v.Mount, ReadOnly: v.ReadOnly}, nil
	}
	return executor.Mount{}, fmt.Errorf("unknown volume %q; available: %s", name, strings.Join(a.volumeNames(), ", "))
}

// volumeACL: a volume without lists is everyone's; otherwise the user, one
// of their groups or the job's project must be listed.
func volumeACL(v *config.Volume, login string, groups []string, project string) bool {
	if len(v.Users) == 0 && len(v.Groups) == 0 && len(v.Projects) == 0 {
		return true
	}
	if slices.Contains(v.Users, login) || slices.Contains(v.Projects, project) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(v.Groups, g) {
			return true
		}
	}
	return false
}

func aclText(v *config.Volume) string {
	var parts []string
	if len(v.Users) > 0 {
		parts = append(parts, "users "+strings.Join(v.Users, ", "))
	}
	if len(v.Groups) > 0 {
		parts = append(parts, "members of "+strings.Join(v.Groups, ", "))
	}
	if len(v.Projects) > 0 {
		parts = append(parts, "projects "+strings.Join(v.Projects, ", "))
	}
	return strings.Join(parts, "; ")
}

// groupsOf names a job owner's groups as their account knows them (LDAP
// groups included), or through the system database for a user without one.
func (a *Agent) groupsOf(ctx context.Context, u api.User) ([]string, error) {
	acc, err := a.loadAccount(ctx, u.Name)
	if errors.Is(err, store.ErrNoRecord) {
		return groupNames(u), nil
	}
	if err != nil {
		return nil, err
	}
	return acc.Groups, nil
}

// volumeResolver is the login method that resolves volumes itself, if any.
func (a *Agent) volumeResolver() auth.VolumeResolver {
	for _, m := range a.authenticators {
		if r, ok := m.(auth.VolumeResolver); ok {
			return r
		}
	}
	return nil
}

// pluginVolume asks a login method for a volume, then holds its answer to
// the rules of configured volumes: an existing absolute host path, never
// the Docker socket, never over a path GoDocker or the system needs.
func (a *Agent) pluginVolume(r auth.VolumeResolver, name string, u api.User, groups []string) (executor.Mount, error) {
	who := &auth.Identity{Login: u.Name, UID: u.UID, GID: u.GID, Groups: u.Groups, GroupNames: groups, Home: u.Home}
	vs, err := r.ResolveVolumes(context.Background(), who, []string{name}, false)
	if err != nil {
		return executor.Mount{}, fmt.Errorf("volume %s: %w", name, err)
	}
	if len(vs) != 1 || vs[0].Name != name {
		return executor.Mount{}, fmt.Errorf("volume %s: the login method answered for other volumes", name)
	}
	v := vs[0]
	if !filepath.IsAbs(v.Source) || !filepath.IsAbs(v.Target) {
		return executor.Mount{}, fmt.Errorf("volume %s: paths must be absolute", name)
	}
	real, err := filepath.EvalSymlinks(v.Source)
	if err != nil {
		return executor.Mount{}, fmt.Errorf("volume %s: %s is not available on this host", name, v.Source)
	}
	if config.ExposesDockerSocket(real) || config.ReservedMount(v.Target) {
		return executor.Mount{}, fmt.Errorf("volume %s: refused: %s at %s would expose the Docker socket or hide a system path", name, real, v.Target)
	}
	return executor.Mount{Source: real, Target: v.Target, ReadOnly: v.ReadOnly}, nil
}

func (a *Agent) volumeNames() []string {
	names := []string{"home"}
	for _, v := range a.cfg.Volumes {
		names = append(names, v.Name)
	}
	if site, err := a.siteVolumes(context.Background()); err == nil {
		for n := range site {
			names = append(names, n)
		}
	}
	return names
}

// resolveUserPath expands a configured volume path for u and resolves it on
// the host. The part before the first variable is the administrator's and
// may hold symbolic links; so may $HOME, which comes from the user
// database. What follows is the user's to shape, so it must hold no
// symbolic link: /scratch/$USER cannot lead to another user's directory or
// to a system path.
func resolveUserPath(tmpl string, u api.User) (string, error) {
	expanded, err := expandUserPath(tmpl, u)
	if err != nil {
		return "", err
	}
	i := strings.IndexByte(tmpl, '$')
	if i < 0 {
		real, err := filepath.EvalSymlinks(expanded)
		if err != nil {
			return "", fmt.Errorf("%s is not available on this host: %w", expanded, err)
		}
		return real, nil
	}
	trusted := filepath.Dir(tmpl[:i+1])
	for _, h := range []string{"$HOME", "${HOME}"} {
		if strings.HasPrefix(tmpl[i:], h) {
			trusted, _ = expandUserPath(tmpl[:i+len(h)], u)
		}
	}
	rel, err := filepath.Rel(trusted, expanded)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s is outside %s", expanded, trusted)
	}
	realTrusted, err := filepath.EvalSymlinks(trusted)
	if err != nil {
		return "", fmt.Errorf("%s is not available on this host: %w", trusted, err)
	}
	real, err := filepath.EvalSymlinks(expanded)
	if err != nil {
		return "", fmt.Errorf("%s is not available on this host: %w", expanded, err)
	}
	if want := filepath.Join(realTrusted, rel); real != want {
		return "", fmt.Errorf("%s goes through a symbolic link (it resolves to %s); GoDocker follows no link below %s: replace the link with a directory", expanded, real, trusted)
	}
	return real, nil
}

// expandUserPath substitutes $USER, $UID and $HOME. A substituted value must
// be a single path element (or, for $HOME, an absolute clean path).
func expandUserPath(p string, u api.User) (string, error) {
	var bad error
	out := os.Expand(p, func(v string) string {
		switch v {
		case "USER":
			if u.Name == "" || u.Name == "." || u.Name == ".." || strings.ContainsAny(u.Name, "/\x00") {
				bad = fmt.Errorf("user name %q cannot be used in a path", u.Name)
			}
			return u.Name
		case "UID":
			return strconv.Itoa(u.UID)
		case "HOME":
			if !filepath.IsAbs(u.Home) || filepath.Clean(u.Home) != u.Home {
				bad = fmt.Errorf("home %q cannot be used in a path", u.Home)
			}
			return u.Home
		}
		bad = fmt.Errorf("unknown variable $%s in path %q (use $USER, $UID or $HOME)", v, p)
		return ""
	})
	if bad != nil {
		return "", bad
	}
	return filepath.Clean(out), nil
}

// returnFiles gives a finished root job's directory back to its owner.
func (a *Agent) returnFiles(j *job.Job) {
	if !j.Spec.Root || j.User.UID == 0 {
		return
	}
	if err := giveBack(a.dirOf(j), j.User.UID, j.User.GID); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Warn("returning job files to their owner", "job_id", j.ID, "error", err)
	}
}

// giveBack makes everything a root job left in its directory belong to the
// job's owner, without following links. What root could plant for the user
// is defused first: device nodes, fifos and sockets are removed, setuid and
// setgid bits are cleared.
func giveBack(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // keep going: a vanished file is not a failure
		}
		t := d.Type()
		switch {
		case t&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			return os.Remove(path)
		case t.IsRegular() || t.IsDir():
			fi, err := d.Info()
			if err != nil {
				return nil
			}
			if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
				if err := os.Chmod(path, fi.Mode().Perm()); err != nil {
					return err
				}
			}
		}
		return os.Lchown(path, uid, gid)
	})
}
