package nomad

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/godocker/god/internal/lazy"
	"github.com/godocker/god/plugins/executor"
)

// Docker labels set on every container, as the Docker executor sets them.
const (
	LabelJobID    = "god.job-id"
	LabelInstance = "god.instance"
	LabelJobName  = "god.job-name"
	LabelStoreID  = "god.store-id"  // the whole id of the job's store
	LabelOwner    = "god.owner-uid" // the submitter's uid
)

// rootCapDrop are the engine's default capabilities that root jobs lose
// (the Docker executor's list).
var rootCapDrop = []string{"MKNOD", "SETFCAP", "NET_RAW", "AUDIT_WRITE", "SYS_CHROOT"}

// gpuDevice is the device GPUs are requested as: any NVIDIA GPU model.
const gpuDevice = "nvidia/gpu"

// minMemoryMB is the smallest memory Nomad accepts for a task.
const minMemoryMB = 10

// nomadJob is the Nomad job that runs t.
func (e *Executor) nomadJob(ctx context.Context, t *executor.Task) (*api.Job, error) {
	if t.Image == "" {
		return nil, executor.Permanent(fmt.Errorf("the job has no image"))
	}
	if len(t.Entrypoint) == 0 {
		return nil, executor.Permanent(fmt.Errorf("the job has no command"))
	}
	res := &api.Resources{}
	if t.Memory > 0 {
		mb := int((t.Memory + 1<<20 - 1) >> 20) // MiB, rounded up
		if mb < minMemoryMB {
			return nil, executor.Permanent(fmt.Errorf("resources.memory %d bytes is below Nomad's minimum of %d MiB; ask for at least %dMiB", t.Memory, minMemoryMB, minMemoryMB))
		}
		res.MemoryMB = &mb
	}
	if t.CPU > 0 {
		per := e.cfg.CPUMHzPerCore
		if per == 0 {
			n, err := e.nodeInfo(ctx)
			if err != nil {
				return nil, err
			}
			per = n.minMHzPerCore
		}
		if per <= 0 {
			return nil, fmt.Errorf("no ready Nomad node in node pool %q to convert cores to MHz; set nomad { cpu_mhz_per_core = ... } or bring a node up", e.poolName())
		}
		mhz := int(math.Ceil(t.CPU * float64(per)))
		res.CPU = &mhz
	}
	if t.GPUs > 0 {
		// Nomad's NVIDIA device plugin fingerprints the GPUs as
		// nvidia/gpu and gives the task the ones it places it on.
		res.Devices = []*api.RequestedDevice{{Name: gpuDevice, Count: new(uint64(t.GPUs))}}
	}
	if len(t.AvoidNodes) > 0 {
		n, err := e.nodeInfo(ctx)
		if err != nil {
			return nil, err
		}
		if len(n.ready) > 0 && !slices.ContainsFunc(n.ready, func(name string) bool { return !slices.Contains(t.AvoidNodes, name) }) {
			return nil, executor.Permanent(fmt.Errorf("the job must avoid node(s) %s, where it failed before, and node pool %q has no other ready node", strings.Join(t.AvoidNodes, ", "), e.poolName()))
		}
	}

	id := e.JobID(t.JobID)
	meta := map[string]string{
		MetaID:       strconv.FormatInt(t.JobID, 10),
		MetaInstance: e.cfg.Instance,
		MetaName:     t.Name,
		MetaStore:    e.cfg.StoreID,
		MetaOwner:    strconv.Itoa(t.Owner),
	}
	if e.cfg.JobURL != "" {
		meta[MetaURL] = strings.ReplaceAll(e.cfg.JobURL, "{id}", strconv.FormatInt(t.JobID, 10))
	}
	env, entrypoint := literalEnv(envMap(t.Env), t.Entrypoint)
	task := &api.Task{
		Name:      taskName,
		Driver:    "docker",
		User:      strconv.Itoa(t.UID) + ":" + strconv.Itoa(t.GID),
		Config:    e.dockerConfig(t, entrypoint, res.CPU != nil),
		Env:       env,
		Resources: res,
		// A stop is graceful: Nomad sends SIGTERM (which the agent's
		// entrypoint passes on to every process of the job), then SIGKILL
		// once the job's kill timeout has passed. Kill does not wait for
		// it: it sends SIGKILL itself (see Executor.Kill).
		KillSignal:  "SIGTERM",
		KillTimeout: new(e.killTimeout(t)),
	}
	group := &api.TaskGroup{
		Name:  new(groupName),
		Count: new(1),
		Tasks: []*api.Task{task},
		// GoDocker, not Nomad, decides whether a job runs again: no restart
		// in place, no reschedule elsewhere, not even when a node is lost.
		RestartPolicy: &api.RestartPolicy{Attempts: new(0), Mode: new("fail")},
		ReschedulePolicy: &api.ReschedulePolicy{
			Attempts:  new(0),
			Unlimited: new(false),
		},
		Disconnect: &api.DisconnectStrategy{Replace: new(false)},
	}
	for _, node := range t.AvoidNodes {
		group.Constraints = append(group.Constraints, &api.Constraint{
			LTarget: "${node.unique.name}",
			Operand: "!=",
			RTarget: node,
		})
	}
	job := &api.Job{
		ID:          new(id),
		Name:        new(id),
		Type:        new(api.JobTypeBatch),
		Meta:        meta,
		TaskGroups:  []*api.TaskGroup{group},
		Datacenters: e.cfg.Datacenters,
	}
	if e.cfg.Region != "" {
		job.Region = new(e.cfg.Region)
	}
	if e.cfg.Namespace != "" {
		job.Namespace = new(e.cfg.Namespace)
	}
	if e.cfg.NodePool != "" {
		job.NodePool = new(e.cfg.NodePool)
	}
	if e.cfg.Priority != 0 {
		job.Priority = new(e.cfg.Priority)
	}
	return job, nil
}

// killTimeout is the task's kill_timeout: the job's own, else the
// configured one (for jobs the agent kills at once, which Nomad only stops
// by itself: see Config.KillTimeout).
func (e *Executor) killTimeout(t *executor.Task) time.Duration {
	if t.KillTimeout > 0 {
		return t.KillTimeout
	}
	return e.cfg.KillTimeout
}

// dockerConfig is the docker driver's task config: the security boundary on
// the Nomad clients, the same as the Docker executor's host config. Never
// privileged, no added capabilities (all dropped for users), no new
// privileges through setuid binaries, an init as PID 1, only the mounts the
// agent resolved (bind mounts with private propagation), and limits the
// engine enforces: memory without swap (the driver sets the swap limit to
// the memory limit), processes, and CPU as a hard CFS quota when the job
// asked for cores.
func (e *Executor) dockerConfig(t *executor.Task, entrypoint []string, cpuLimit bool) map[string]any {
	mounts := make([]map[string]any, 0, len(t.Mounts))
	for _, m := range t.Mounts {
		mounts = append(mounts, map[string]any{
			"type":         "bind",
			"source":       literal(m.Source),
			"target":       literal(m.Target),
			"readonly":     m.ReadOnly,
			"bind_options": []map[string]any{{"propagation": "rprivate"}},
		})
	}
	groups := make([]string, 0, len(t.Groups))
	for _, g := range t.Groups {
		groups = append(groups, strconv.Itoa(g))
	}
	capDrop := []string{"ALL"}
	if t.UID == 0 {
		// Root keeps what installing and running software needs, not what
		// could plant something for the host in the writable job directory
		// (device nodes, file capabilities) or spy on the network.
		capDrop = rootCapDrop
	}
	args := make([]string, len(entrypoint))
	for i, arg := range entrypoint {
		args[i] = literal(arg)
	}
	cfg := map[string]any{
		"image":        literal(t.Image),
		"entrypoint":   args,
		"force_pull":   false,
		"privileged":   false,
		"cap_drop":     capDrop,
		"security_opt": []string{"no-new-privileges"},
		"init":         true,
		"pids_limit":   e.cfg.PidsLimit,
		"group_add":    groups,
		"mount":        mounts,
		// Blocks and maps of the driver's HCL spec are lists of objects
		// in a job's JSON.
		"labels": []map[string]string{{
			LabelJobID:    strconv.FormatInt(t.JobID, 10),
			LabelInstance: e.cfg.Instance,
			LabelJobName:  literal(t.Name),
			LabelStoreID:  e.cfg.StoreID,
			LabelOwner:    strconv.Itoa(t.Owner),
		}},
	}
	if t.WorkDir != "" {
		cfg["work_dir"] = literal(t.WorkDir)
	}
	if cpuLimit {
		cfg["cpu_hard_limit"] = true
	}
	return cfg
}

// literal escapes a string of the driver config: Nomad's client evaluates
// the config as HCL templates, where ${...} and %{...} are interpolations
// (a script's ${#x} would not even parse, and ${node.unique.name} would be
// replaced). $${ and %%{ stand for the characters themselves.
func literal(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{")
}

// literalEnv keeps environment values exactly as given. Nomad's client
// replaces ${name} in a task's env values when name is one of its
// variables or node attributes, with no escape. So values holding "${"
// are exported instead by a bash prelude before the entrypoint (images
// have bash): the rest stay in Nomad's env, visible in its UI. A name that
// is not a shell identifier cannot be exported and stays with Nomad.
func literalEnv(env map[string]string, entrypoint []string) (map[string]string, []string) {
	var names []string
	for k, v := range env {
		if strings.Contains(v, "${") && shellName().MatchString(k) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return env, entrypoint
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("export")
	for _, k := range names {
		b.WriteString(" " + k + "=" + ansiQuote(env[k]))
		delete(env, k)
	}
	b.WriteString(`; exec "$0" "$@"`)
	return env, append([]string{"/bin/bash", "-c", b.String()}, entrypoint...)
}

var shellName = lazy.Regexp(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ansiQuote is s in bash's $'...' quoting: every byte but plain printable
// ASCII as \xHH, so nothing in it is special to bash, HCL or Nomad.
func ansiQuote(s string) string {
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f && !strings.ContainsRune(`'\$%{}`, rune(c)) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// envMap turns KEY=VALUE pairs into Nomad's map; a later pair wins, as in
// Docker.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			m[k] = v
		}
	}
	return m
}

func (e *Executor) poolName() string {
	if e.cfg.NodePool == "" {
		return "default"
	}
	return e.cfg.NodePool
}
