package swarm

import (
	"strconv"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"

	"github.com/godocker/god/plugins/executor"
)

// rootCapDrop are the engine's default capabilities that root jobs lose
// (as with the Docker executor).
var rootCapDrop = []string{"CAP_MKNOD", "CAP_SETFCAP", "CAP_NET_RAW", "CAP_AUDIT_WRITE", "CAP_SYS_CHROOT"}

// serviceSpec is the job's service: one replica, never restarted (one
// task = one computation), confined as the Docker executor confines a
// container: the task's user, no added capabilities (all dropped for a
// user), no new privileges, only the mounts the agent resolved, and
// engine-enforced limits, reserved on the node so Swarm only places the
// job where it fits.
func (e *Executor) serviceSpec(t *executor.Task) swarm.ServiceSpec {
	labels := map[string]string{
		LabelJobID:    strconv.FormatInt(t.JobID, 10),
		LabelInstance: e.cfg.Instance,
		LabelJobName:  t.Name,
		LabelStoreID:  e.cfg.StoreID,
		LabelOwner:    strconv.Itoa(t.Owner),
	}
	mounts := make([]mount.Mount, 0, len(t.Mounts)+1)
	for _, m := range t.Mounts {
		mounts = append(mounts, mount.Mount{
			Type:        mount.TypeBind,
			Source:      m.Source,
			Target:      m.Target,
			ReadOnly:    m.ReadOnly,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate},
		})
	}
	command := t.Entrypoint
	if e.nnp == nnpHelper {
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: e.cfg.NNPHelper, Target: nnpTarget, ReadOnly: true})
		command = append([]string{nnpTarget}, t.Entrypoint...)
	}
	groups := make([]string, 0, len(t.Groups))
	for _, g := range t.Groups {
		groups = append(groups, strconv.Itoa(g))
	}
	capDrop := []string{"ALL"}
	if t.UID == 0 {
		// Root keeps what installing software needs, not what could plant
		// something for the host in the job directory.
		capDrop = rootCapDrop
	}
	// The engine escalates a shutdown by Swarm (a Stop or Kill of a task
	// on another node) to SIGKILL after the job's kill timeout.
	grace := t.KillTimeout
	cs := &swarm.ContainerSpec{
		Image:           t.Image,
		Labels:          labels,
		Command:         command,
		Env:             t.Env,
		Dir:             t.WorkDir,
		User:            strconv.Itoa(t.UID) + ":" + strconv.Itoa(t.GID),
		Groups:          groups,
		Init:            new(true),
		StopSignal:      "SIGTERM",
		StopGracePeriod: &grace,
		Mounts:          mounts,
		CapabilityDrop:  capDrop,
		Privileges:      &swarm.Privileges{NoNewPrivileges: true},
	}
	res := &swarm.ResourceRequirements{
		Limits: &swarm.Limit{
			NanoCPUs:    int64(t.CPU * 1e9),
			MemoryBytes: t.Memory,
			Pids:        e.cfg.PidsLimit,
		},
		Reservations: &swarm.Resources{
			NanoCPUs:    int64(t.CPU * 1e9),
			MemoryBytes: t.Memory,
		},
	}
	if t.Memory > 0 {
		res.SwapBytes = new(int64(0)) // no swap beyond the limit, where the engine knows it
	}
	if t.GPUs > 0 {
		res.Reservations.GenericResources = []swarm.GenericResource{{
			DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: e.cfg.GPUResource, Value: int64(t.GPUs)},
		}}
	}
	constraints := append([]string(nil), e.cfg.Constraints...)
	for _, n := range t.AvoidNodes {
		constraints = append(constraints, "node.hostname!="+n)
	}
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: e.serviceName(t.JobID), Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			Resources:     res,
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone, MaxAttempts: new(uint64(0))},
			Placement:     &swarm.Placement{Constraints: constraints},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: new(uint64(1))}},
	}
}
