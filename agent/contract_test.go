package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/moby/client"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
)

// The execution contract: the container runs as the submitter (uid, gid,
// supplementary groups), whoami/id/$HOME resolve without useradd in an image
// that only has bash and busybox, the job directory is mounted at
// /mnt/go-docker with cmd.sh, god.log, god.err and god.info owned by the user.
func TestContract_RunsAsSubmitter(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{
		Name:    "contract",
		Command: `whoami; id -u; id -g; id -G; echo "HOME=$HOME"; echo "PWD=$PWD"; echo "JID=$GODOCKER_JID PWDV=$GODOCKER_PWD GHOME=$GODOCKER_HOME"; echo "SAMPLE=$SAMPLE"; cd ~ && pwd; touch ~/.god-contract-$GODOCKER_JID && echo home-writable; echo oops >&2; exit 3`,
		Volumes: []string{"home"},
		Env:     map[string]string{"SAMPLE": "s1"},
	})
	j := ta.waitOver(alice, id)
	must.Eq(t, 3, exitCode(j))
	must.Eq(t, "", j.Status.Secondary)
	out := ta.readJobFile(id, "god.log")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	must.SliceLen(t, 10, lines, must.Sprint(out))
	must.Eq(t, "god-alice", lines[0])
	must.Eq(t, "23001", lines[1])
	must.Eq(t, "23001", lines[2])
	must.StrContains(t, lines[3], "23100", must.Sprint("supplementary group god-lab"))
	must.Eq(t, "HOME="+alice.Home, lines[4])
	must.Eq(t, "PWD=/mnt/go-docker", lines[5])
	must.Eq(t, "JID="+strconv.FormatInt(id, 10)+" PWDV=/mnt/go-docker GHOME="+alice.Home, lines[6])
	must.Eq(t, "SAMPLE=s1", lines[7])
	must.Eq(t, alice.Home, lines[8])
	must.Eq(t, "home-writable", lines[9])
	t.Cleanup(func() { os.Remove(filepath.Join(alice.Home, ".god-contract-"+strconv.FormatInt(id, 10))) })
	must.Eq(t, "oops\n", ta.readJobFile(id, "god.err"))
	info := ta.readJobFile(id, "god.info")
	must.StrContains(t, info, "start=")
	must.StrContains(t, info, "exit=3")

	// Every file of the job directory, and the directory, belong to alice.
	dir := ta.jobDir(id)
	must.Eq(t, dir, j.JobDir)
	for _, name := range []string{".", "cmd.sh", "god.log", "god.err", "god.info"} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		must.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		must.Eq(t, uint32(aliceUID), st.Uid, must.Sprintf("owner of %s", name))
		must.Eq(t, uint32(aliceUID), st.Gid, must.Sprintf("group of %s", name))
	}
	// The container is removed once the job's end is recorded.
	ta.waitGone(id)
}

// Without the home volume, HOME is the job directory (Go-Docker's rule) and
// the user's home is not mounted.
func TestContract_NoHomeVolume(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "nohome", Command: `echo "$HOME"; test -e ` + alice.Home + ` && echo mounted || echo absent`})
	j := ta.waitOver(alice, id)
	must.Eq(t, 0, exitCode(j))
	must.Eq(t, "/mnt/go-docker\nabsent\n", ta.readJobFile(id, "god.log"))
}

// A script with its own shebang runs as written.
func TestContract_Script(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "script", Script: "#!/bin/sh\necho from-sh \"$0\"\n"})
	j := ta.waitOver(alice, id)
	must.Eq(t, 0, exitCode(j))
	must.Eq(t, "from-sh /mnt/go-docker/cmd.sh\n", ta.readJobFile(id, "god.log"))
}

// Root is refused unless the site allows it; when allowed, every mount but
// the job directory is read-only and the files go back to the user.
func TestContract_RootReadOnlyMounts(t *testing.T) {
	alice := testUser(t, aliceUID)
	refusing := startAgent(t, nil)
	_, err := refusing.Submit(context.Background(), alice, &api.JobSpec{Name: "r", Command: "id", Root: true})
	must.ErrorContains(t, err, "job refused")
	must.Eq(t, "root", err.(*Error).Fields[0].Field)

	scratch := t.TempDir()
	must.NoError(t, os.Chmod(scratch, 0o777))
	ta := startAgent(t, func(c *config.Config) {
		c.AllowRoot = true
		c.Volumes = []*config.Volume{{Name: "scratch", Path: scratch, Mount: "/scratch"}}
	})
	id := ta.submit(alice, api.JobSpec{
		Name:    "root",
		Command: `id -u; touch /scratch/x 2>/dev/null && echo scratch-rw || echo scratch-ro; touch ` + alice.Home + `/y 2>/dev/null && echo home-rw || echo home-ro; echo out > result && echo jobdir-rw`,
		Root:    true,
		Volumes: []string{"home", "scratch"},
	})
	j := ta.waitOver(alice, id)
	must.Eq(t, 0, exitCode(j))
	must.Eq(t, "0\nscratch-ro\nhome-ro\njobdir-rw\n", ta.readJobFile(id, "god.log"))
	fi, err := os.Lstat(filepath.Join(ta.jobDir(id), "result"))
	must.NoError(t, err)
	must.Eq(t, uint32(aliceUID), fi.Sys().(*syscall.Stat_t).Uid, must.Sprint("files of a root job go back to the user"))
}

// The engine-side security settings of a job's container.
func TestContract_RefusedPrivileges(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{
		Name:      "caps",
		Command:   `grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; sleep 30`,
		Resources: &api.Resources{CPU: 0.5, Memory: "64MiB"},
	})
	ta.waitRunning(alice, id)
	ta.waitOutput(id, "NoNewPrivs")
	cli, err := client.New(client.WithHost("unix:///var/run/docker.sock"))
	must.NoError(t, err)
	defer cli.Close()
	st, err := ta.exec.Inspect(context.Background(), id)
	must.NoError(t, err)
	res, err := cli.ContainerInspect(context.Background(), st.ID, client.ContainerInspectOptions{})
	must.NoError(t, err)
	hc := res.Container.HostConfig
	must.False(t, hc.Privileged)
	must.SliceContains(t, hc.CapDrop, "ALL")
	must.SliceEmpty(t, hc.CapAdd)
	must.SliceContains(t, hc.SecurityOpt, "no-new-privileges")
	must.NotEq(t, "host", string(hc.NetworkMode))
	must.NotEq(t, "host", string(hc.PidMode))
	must.Eq(t, "private", string(hc.IpcMode))
	must.SliceEmpty(t, hc.Devices)
	must.Eq(t, int64(64<<20), hc.Memory)
	must.Eq(t, int64(64<<20), hc.MemorySwap)
	must.Eq(t, int64(5e8), hc.NanoCPUs)
	for _, m := range res.Container.Mounts {
		must.StrNotContains(t, m.Source, "docker.sock")
	}
	must.Eq(t, "23001:23001", res.Container.Config.User)
	_, err = ta.Stop(context.Background(), alice, id)
	must.NoError(t, err)
	j := ta.waitOver(alice, id)
	must.Eq(t, api.ExitKilled, exitCode(j))
	must.Eq(t, "CapEff:\t0000000000000000\nNoNewPrivs:\t1\n", ta.readJobFile(id, "god.log"))
}

// The engine enforces the memory limit; the job ends with the reason.
func TestContract_MemoryLimit(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{
		Name:      "oom",
		Command:   `x=$(head -c 100000000 /dev/zero | tr '\0' a); echo survived ${#x}`,
		Resources: &api.Resources{Memory: "16MiB"},
	})
	j := ta.waitOver(alice, id)
	must.NotEq(t, 0, exitCode(j))
	must.StrNotContains(t, ta.readJobFile(id, "god.log"), "survived")
}

// A root job cannot hand its owner root on the host: while it runs, its
// directory is root's alone (a setuid shell planted there is out of the
// user's reach); device nodes cannot be made; when it ends, what it left is
// defused and given back.
func TestContract_RootJobPlantsNothing(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.AllowRoot = true })
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{
		Name:    "plant",
		Root:    true,
		Command: `cp /bin/bash sh-copy && chmod 4755 sh-copy && echo planted; mknod disk b 8 0 2>/dev/null && echo mknod-ok || echo mknod-refused; mkfifo fifo; echo ready; sleep 30`,
	})
	ta.waitRunning(alice, id)
	ta.waitOutput(id, "ready")
	dir := ta.jobDir(id)
	fi, err := os.Lstat(dir)
	must.NoError(t, err)
	must.Eq(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, must.Sprint("root's while the root job runs"))
	must.Eq(t, os.FileMode(0o700), fi.Mode().Perm())
	// alice on the host cannot reach the setuid copy.
	cmd := exec.Command(filepath.Join(dir, "sh-copy"), "-p", "-c", "id -u")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: aliceUID, Gid: aliceUID}}
	out, err := cmd.CombinedOutput()
	must.Error(t, err, must.Sprint(string(out)))

	_, err = ta.Stop(context.Background(), alice, id)
	must.NoError(t, err)
	ta.waitOver(alice, id)
	must.StrContains(t, ta.readJobFile(id, "god.log"), "planted\nmknod-refused\n")
	for _, name := range []string{".", "sh-copy", "god.log"} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		must.NoError(t, err)
		must.Eq(t, uint32(aliceUID), fi.Sys().(*syscall.Stat_t).Uid, must.Sprintf("%s given back", name))
		must.Zero(t, fi.Mode()&(os.ModeSetuid|os.ModeSetgid), must.Sprintf("%s defused", name))
	}
	_, err = os.Lstat(filepath.Join(dir, "fifo"))
	must.True(t, os.IsNotExist(err), must.Sprint("special files removed"))
}
