package swarm

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/godocker/god/plugins/executor"
)

// Capacity implements executor.Executor: the cpus, memory and GPUs (the
// generic resource Config.GPUResource) of the nodes that can take tasks,
// unless the configuration overrides cpus or memory. Drained and paused
// nodes, and nodes that are down, are left out.
func (e *Executor) Capacity(ctx context.Context) (executor.Capacity, error) {
	nodes, err := e.eligibleNodes(ctx)
	if err != nil {
		return executor.Capacity{}, err
	}
	var c executor.Capacity
	for _, n := range nodes {
		r := n.Description.Resources
		c.CPU += float64(r.NanoCPUs) / 1e9
		c.Memory += r.MemoryBytes
		c.GPUs += gpus(r.GenericResources, e.cfg.GPUResource)
	}
	if e.cfg.CPU > 0 {
		c.CPU = e.cfg.CPU
	}
	if e.cfg.Memory > 0 {
		c.Memory = e.cfg.Memory
	}
	return c, nil
}

// eligibleNodes are the nodes Swarm may place a task on now.
func (e *Executor) eligibleNodes(ctx context.Context) ([]swarm.Node, error) {
	res, err := e.cli.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Swarm nodes: %w", err)
	}
	var out []swarm.Node
	for _, n := range res.Items {
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive {
			out = append(out, n)
		}
	}
	return out, nil
}

// gpus counts a node's generic resources of kind: a discrete count, or one
// per named device.
func gpus(rs []swarm.GenericResource, kind string) int {
	n := 0
	for _, r := range rs {
		switch {
		case r.DiscreteResourceSpec != nil && r.DiscreteResourceSpec.Kind == kind:
			n += int(r.DiscreteResourceSpec.Value)
		case r.NamedResourceSpec != nil && r.NamedResourceSpec.Kind == kind:
			n++
		}
	}
	return n
}
