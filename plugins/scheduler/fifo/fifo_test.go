package fifo

import (
	"context"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/scheduler"
)

func TestOrder(t *testing.T) {
	now := time.Now()
	snap := &scheduler.Snapshot{Now: now, Pending: []scheduler.Job{
		{ID: 5, Submitted: now.Add(2 * time.Second)},
		{ID: 3, Submitted: now},
		{ID: 9, Submitted: now.Add(time.Second)},
		{ID: 2, Submitted: now},
	}}
	out, err := Scheduler{}.Order(context.Background(), snap)
	must.NoError(t, err)
	var ids []int64
	for _, d := range out {
		ids = append(ids, d.JobID)
	}
	must.Eq(t, []int64{2, 3, 5, 9}, ids, must.Sprint("ids are the order of acceptance"))
	must.Eq(t, int64(5), snap.Pending[0].ID, must.Sprint("the snapshot is not reordered"))
}
