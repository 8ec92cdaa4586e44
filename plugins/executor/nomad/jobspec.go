package nomad

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/godocker/god/plugins/executor"
)

// Docker labels set on every container, as the Docker executor sets them.
const (
	LabelJobID    = "god.job-id"
	LabelInstance = "god.instance"
	LabelJobName  = "god.job-name"
)

// rootCapDrop are the engine's default capabilities that root jobs lose
// (the Docker executor's list).
var rootCapDrop = []string{"MKNOD", "SETFCAP", "NET_RAW", "AUDIT_WRITE", "SYS_CHROOT"}

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
	}
	if e.cfg.JobURL != "" {
		meta[MetaURL] = strings.ReplaceAll(e.cfg.JobURL, "{id}", strconv.FormatInt(t.JobID, 10))
	}
	task := &api.Task{
		Name:      taskName,
		Driver:    "docker",
		User:      strconv.Itoa(t.UID) + ":" + strconv.Itoa(t.GID),
		Config:    e.dockerConfig(t, res.CPU != nil),
		Env:       envMap(t.Env),
		Resources: res,
		// A kill is a kill: SIGKILL at once, as the Docker executor does;
		// the timeout only bounds how long Nomad waits for it to land.
		KillSignal:  "SIGKILL",
		KillTimeout: new(e.cfg.KillTimeout),
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

// dockerConfig is the docker driver's task config: the security boundary on
// the Nomad clients, the same as the Docker executor's host config. Never
// privileged, no added capabilities (all dropped for users), no new
// privileges through setuid binaries, an init as PID 1, only the mounts the
// agent resolved (bind mounts with private propagation), and limits the
// engine enforces: memory without swap (the driver sets the swap limit to
// the memory limit), processes, and CPU as a hard CFS quota when the job
// asked for cores.
func (e *Executor) dockerConfig(t *executor.Task, cpuLimit bool) map[string]any {
	mounts := make([]map[string]any, 0, len(t.Mounts))
	for _, m := range t.Mounts {
		mounts = append(mounts, map[string]any{
			"type":         "bind",
			"source":       m.Source,
			"target":       m.Target,
			"readonly":     m.ReadOnly,
			"bind_options": map[string]any{"propagation": "rprivate"},
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
	cfg := map[string]any{
		"image":        t.Image,
		"entrypoint":   t.Entrypoint,
		"force_pull":   false,
		"privileged":   false,
		"cap_drop":     capDrop,
		"security_opt": []string{"no-new-privileges"},
		"init":         true,
		"pids_limit":   e.cfg.PidsLimit,
		"group_add":    groups,
		"mount":        mounts,
		"labels": map[string]string{
			LabelJobID:    strconv.FormatInt(t.JobID, 10),
			LabelInstance: e.cfg.Instance,
			LabelJobName:  t.Name,
		},
	}
	if t.WorkDir != "" {
		cfg["work_dir"] = t.WorkDir
	}
	if cpuLimit {
		cfg["cpu_hard_limit"] = true
	}
	return cfg
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
