package swarm

import (
	"context"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/godocker/god/plugins/executor"
)

// Events implements executor.Executor. Swarm has no event stream for task
// states on every engine version, so two sources feed one channel: the
// manager's own engine reports at once the end ("die") of a container of
// the instance on its node, and a poll of the instance's tasks every
// PollInterval reports the tasks that reached an end since the last poll
// (on other nodes, or refused before any container). A job may be
// reported twice; the agent inspects it each time.
func (e *Executor) Events(ctx context.Context) (<-chan executor.Event, error) {
	byInstance := client.Filters{}.Add("label", LabelInstance+"="+e.cfg.Instance)
	res := e.cli.Events(ctx, client.EventsListOptions{
		Filters: byInstance.Clone().Add("type", "container").Add("event", "die"),
	})
	// Tasks that ended before the subscription: the agent reconciles them
	// with List, so they are not reported.
	ended, err := e.endedTasks(ctx, byInstance)
	if err != nil {
		return nil, err
	}
	out := make(chan executor.Event, 64)
	go func() {
		defer close(out)
		tick := time.NewTicker(e.cfg.PollInterval)
		defer tick.Stop()
		send := func(id int64) bool {
			select {
			case out <- executor.Event{JobID: id}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-res.Err:
				return
			case m := <-res.Messages:
				id, err := strconv.ParseInt(m.Actor.Attributes[LabelJobID], 10, 64)
				if err != nil || !e.ours(m.Actor.Attributes, id) {
					continue // another store's
				}
				if !send(id) {
					return
				}
			case <-tick.C:
				now, err := e.endedTasks(ctx, byInstance)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					continue // the next poll tries again
				}
				for task, id := range now {
					if _, seen := ended[task]; !seen && !send(id) {
						return
					}
				}
				ended = now
			}
		}
	}()
	return out, nil
}

// endedTasks maps the ids of the store's tasks that have ended to their
// job ids.
func (e *Executor) endedTasks(ctx context.Context, byInstance client.Filters) (map[string]int64, error) {
	res, err := e.cli.TaskList(ctx, client.TaskListOptions{Filters: byInstance})
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range res.Items {
		if !terminal(t.Status.State) {
			continue
		}
		// A task's own labels are empty (the filter matched its
		// service's): the job's are on its container spec.
		var labels map[string]string
		if t.Spec.ContainerSpec != nil {
			labels = t.Spec.ContainerSpec.Labels
		}
		id, err := strconv.ParseInt(labels[LabelJobID], 10, 64)
		if err == nil && e.ours(labels, id) {
			out[t.ID] = id
		}
	}
	return out, nil
}

func terminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateFailed, swarm.TaskStateShutdown,
		swarm.TaskStateRejected, swarm.TaskStateOrphaned, swarm.TaskStateRemove:
		return true
	}
	return false
}
