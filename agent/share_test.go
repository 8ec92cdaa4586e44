package agent

import (
	"fmt"
	"testing"

	"github.com/shoenig/test/must"
)

// TestWatchersOwner: every job has one owner among the healthy watchers,
// the shares are even, and a watcher leaving moves only its own share.
func TestWatchersOwner(t *testing.T) {
	var w watchers
	must.Eq(t, "", w.owner(1), must.Sprint("no watcher, no owner"))
	w.set([]string{"god-1", "god-2", "god-3"})
	before := map[int64]string{}
	count := map[string]int{}
	for id := int64(1); id <= 3000; id++ {
		o := w.owner(id)
		must.Eq(t, o, w.owner(id), must.Sprint("the same answer every time"))
		before[id] = o
		count[o]++
	}
	for _, n := range []string{"god-1", "god-2", "god-3"} {
		must.Between(t, 850, count[n], 1150, must.Sprintf("%s's share of 3000: %v", n, count))
	}
	w.set([]string{"god-1", "god-3"})
	for id, o := range before {
		if o != "god-2" {
			must.Eq(t, o, w.owner(id), must.Sprint(fmt.Sprintf("job %d stays with %s", id, o)))
		}
	}
}
