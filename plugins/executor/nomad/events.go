package nomad

import (
	"context"
	"fmt"

	"github.com/hashicorp/nomad/api"

	"github.com/godocker/god/plugins/executor"
)

// Events implements executor.Executor on Nomad's event stream: one
// long-lived request for every job of the namespace, no polling. A job
// stopped when its allocation ends (complete, failed or lost) or when the
// job itself is dead without one (withdrawn, or stopped before placement).
// The channel closes when ctx ends or the stream breaks; the agent then
// reconciles with List and subscribes again.
func (e *Executor) Events(ctx context.Context) (<-chan executor.Event, error) {
	// From about now on: what ended before is the reconciliation's. (Index
	// 0 would replay Nomad's whole event buffer.) The jobs table's index is
	// at most the latest one; events in between are recent ones.
	q := queryOpts(ctx)
	q.Prefix = e.cfg.Instance + "-"
	q.PerPage = 1
	_, meta, err := e.cli.Jobs().List(q)
	if err != nil {
		return nil, fmt.Errorf("reading Nomad's index before subscribing to events: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	topics := map[api.Topic][]string{
		api.TopicAllocation: {"*"},
		api.TopicJob:        {"*"},
	}
	stream, err := e.cli.EventStream().Stream(sctx, topics, meta.LastIndex+1, queryOpts(sctx))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribing to Nomad's event stream: %w", err)
	}
	out := make(chan executor.Event, 64)
	go func() {
		defer close(out)
		defer cancel()
		// One event per allocation (or stopped job version): Nomad sends
		// several updates of a terminal allocation.
		seen := make(map[string]bool)
		for {
			var batch *api.Events
			var ok bool
			select {
			case <-ctx.Done():
				return
			case batch, ok = <-stream:
			}
			if !ok || batch.Err != nil {
				return
			}
			for i := range batch.Events {
				id, key, stopped := e.stopEvent(&batch.Events[i])
				if !stopped || seen[key] {
					continue
				}
				if len(seen) > 100_000 {
					clear(seen) // bounded; a repeat only costs the agent an Inspect
				}
				seen[key] = true
				select {
				case out <- executor.Event{JobID: id}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// stopEvent tells whether ev says a job of this instance stopped running,
// and a key that is the same for repeats of that news. It reads the few
// fields it needs from the payload rather than decoding whole objects.
func (e *Executor) stopEvent(ev *api.Event) (jobID int64, key string, ok bool) {
	switch ev.Topic {
	case api.TopicAllocation:
		a, _ := ev.Payload["Allocation"].(map[string]any)
		nomadJob, _ := a["JobID"].(string)
		allocID, _ := a["ID"].(string)
		status, _ := a["ClientStatus"].(string)
		switch status {
		case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost:
		default:
			return 0, "", false
		}
		id, mine := e.godockerID(nomadJob)
		return id, "alloc/" + allocID, mine
	case api.TopicJob:
		j, _ := ev.Payload["Job"].(map[string]any)
		nomadJob, _ := j["ID"].(string)
		status, _ := j["Status"].(string)
		if status != "dead" {
			return 0, "", false
		}
		id, mine := e.godockerID(nomadJob)
		version, _ := j["Version"].(float64)
		return id, fmt.Sprintf("job/%s/%d", nomadJob, int64(version)), mine
	}
	return 0, "", false
}
