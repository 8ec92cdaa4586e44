package nomad

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/godocker/god/plugins/executor"
)

// nodeInfo sums the nodes jobs can be placed on.
type nodeInfo struct {
	at            time.Time
	capacity      executor.Capacity
	ready         []string // node names
	minMHzPerCore int      // 0 when no node is ready
}

// Capacity implements executor.Executor: the total cpu cores, memory and
// healthy NVIDIA GPUs (devices of vendor "nvidia" and type "gpu", as the
// Nomad NVIDIA device plugin fingerprints them) of the ready, eligible
// nodes of the configured pool and datacenters (not minus what runs there,
// like the Docker executor's). GPUs of other vendors count as none.
func (e *Executor) Capacity(ctx context.Context) (executor.Capacity, error) {
	n, err := e.nodeInfo(ctx)
	if err != nil {
		return executor.Capacity{}, err
	}
	return n.capacity, nil
}

// nodeInfo returns the nodes' summary, asking Nomad at most once per
// capacityTTL.
func (e *Executor) nodeInfo(ctx context.Context) (*nodeInfo, error) {
	e.mu.Lock()
	cached := e.nodes
	e.mu.Unlock()
	now := e.now()
	if cached != nil && now.Sub(cached.at) < capacityTTL && !now.Before(cached.at) {
		return cached, nil
	}
	q := queryOpts(ctx)
	q.Params = map[string]string{"resources": "true"}
	nodes, _, err := e.cli.Nodes().List(q)
	if err != nil {
		return nil, fmt.Errorf("listing Nomad nodes: %w", err)
	}
	n := &nodeInfo{at: now}
	for _, node := range nodes {
		if !e.usable(node) {
			continue
		}
		r := node.NodeResources
		n.capacity.CPU += float64(r.Cpu.TotalCpuCores)
		n.capacity.Memory += r.Memory.MemoryMB << 20
		n.capacity.GPUs += gpus(r.Devices)
		n.ready = append(n.ready, node.Name)
		if r.Cpu.TotalCpuCores > 0 {
			per := int(r.Cpu.CpuShares / int64(r.Cpu.TotalCpuCores))
			if n.minMHzPerCore == 0 || per < n.minMHzPerCore {
				n.minMHzPerCore = per
			}
		}
	}
	e.mu.Lock()
	e.nodes = n
	e.mu.Unlock()
	return n, nil
}

// usable reports whether jobs can be placed on node: ready, eligible, not
// draining, in the pool and one of the datacenters, with the docker driver
// healthy.
func (e *Executor) usable(node *api.NodeListStub) bool {
	if node.Status != api.NodeStatusReady || node.SchedulingEligibility != api.NodeSchedulingEligible || node.Drain {
		return false
	}
	if node.NodePool != e.poolName() || node.NodeResources == nil {
		return false
	}
	if d := node.Drivers["docker"]; d == nil || !d.Detected || !d.Healthy {
		return false
	}
	if len(e.cfg.Datacenters) == 0 {
		return true
	}
	for _, pattern := range e.cfg.Datacenters {
		if globMatch(pattern, node.Datacenter) {
			return true
		}
	}
	return false
}

// globMatch matches s against a Nomad datacenter pattern, where * is any
// run of characters (and nothing else is special).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// gpus counts the healthy NVIDIA GPUs among a node's devices.
func gpus(devices []*api.NodeDeviceResource) int {
	n := 0
	for _, d := range devices {
		if d == nil || d.Vendor != "nvidia" || d.Type != "gpu" {
			continue
		}
		for _, inst := range d.Instances {
			if inst != nil && inst.Healthy {
				n++
			}
		}
	}
	return n
}
