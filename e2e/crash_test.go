package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

// A job running when the agent is killed -9 is adopted after the restart:
// same container, not started again, real exit code and output.
func TestCrash_RunningJobAdopted(t *testing.T) {
	p := startAgent(t, agentOpts{})
	id := p.submit(api.JobSpec{Name: "survivor", Command: "echo run >> runs; sleep 3; echo done"})
	p.waitRunning(id)
	before := p.containersOf(id)
	must.SliceLen(t, 1, before)
	p.kill9()
	p.restart()
	j := p.waitOver(id)
	must.Eq(t, 0, exitCode(j))
	must.Eq(t, "done\n", p.jobFile(id, "god.log"))
	must.Eq(t, "run\n", p.jobFile(id, "runs"), must.Sprint("started exactly once"))
	must.Eq(t, before[0], j.Container.ID)
}

// A job that ends while the agent is down is finalized at restart with its
// real exit code.
func TestCrash_EndedWhileDown(t *testing.T) {
	p := startAgent(t, agentOpts{})
	id := p.submit(api.JobSpec{Name: "quick", Command: "sleep 1; echo bye; exit 3"})
	p.waitRunning(id)
	p.kill9()
	// Let the container end while nobody watches.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.jobFile(id, "god.info"), "exit=") {
		if time.Now().After(deadline) {
			t.Fatal("job never ended")
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.restart()
	j := p.waitOver(id)
	must.Eq(t, 3, exitCode(j))
	must.Eq(t, "bye\n", p.jobFile(id, "god.log"))
	// Its container is removed once the end is recorded.
	p.waitNoContainer(id)
}

// Every acknowledged submit survives kill -9; pending jobs go on after the
// restart, in order, each started exactly once.
func TestCrash_AcknowledgedSubmitsSurvive(t *testing.T) {
	p := startAgent(t, agentOpts{cpu: 1})
	var ids []int64
	for i := 0; i < 6; i++ {
		ids = append(ids, p.submit(api.JobSpec{Name: "q", Command: "echo run >> runs; sleep 0.5", Resources: &api.Resources{CPU: 1}}))
	}
	p.kill9() // right after the last acknowledgement
	p.restart()
	for _, id := range ids {
		j := p.waitOver(id)
		must.Eq(t, 0, exitCode(j), must.Sprintf("job %d", id))
		must.Eq(t, "run\n", p.jobFile(id, "runs"), must.Sprintf("job %d started exactly once", id))
	}
}
