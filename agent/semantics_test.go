package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/agent/config"
	"github.com/godocker/god/api"
	"github.com/godocker/god/plugins/executor/docker"
)

// An array of 20 with throttle 3 never has more than 3 tasks running; each
// task gets its place in the array, in both spellings, and its own
// directory; the parent ends when the last task does, with a summary.
func TestArray_Throttle(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{
		Name:      "arr",
		Command:   `echo "$GODOCKER_TASK_ID $GODOCKER_TASK_FIRST $GODOCKER_TASK_LAST $GODOCKER_TASK_STEP $GOGOCKER_TASK_ID"; echo run >> runs; sleep 0.4; exit $((GODOCKER_TASK_ID % 4 == 0))`,
		Array:     "1:20",
		Throttle:  3,
		Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"},
	})
	// Watch the engine with a handle of our own: the agent restarts below.
	mon, err := docker.New(context.Background(), docker.Config{Instance: ta.instance, StoreID: ta.opened.Identity().ID})
	must.NoError(t, err)
	defer mon.Close()
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
				states, err := mon.List(context.Background())
				if err != nil {
					continue
				}
				n := int64(0)
				for _, s := range states {
					if s.Running {
						n++
					}
				}
				if n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	ta = ta.restart() // in the middle: the throttle holds across it
	j := ta.waitOver(alice, id)
	close(stop)
	<-done
	must.LessEq(t, int64(3), peak.Load(), must.Sprint("never more than the throttle"))
	must.Greater(t, int64(1), peak.Load(), must.Sprint("the throttle, not capacity, was the limit"))
	must.Eq(t, 1, exitCode(j), must.Sprint("the highest task exit code"))
	must.Eq(t, api.SecondaryFailed, j.Status.Secondary)
	must.Eq(t, "5 of 20 tasks failed", j.Status.Reason)
	must.NotNil(t, j.Array)
	must.Eq(t, 20, j.Array.Tasks)
	must.Eq(t, map[string]int{"over": 20}, j.Array.States)
	must.Eq(t, map[string]int{"0": 15, "1": 5}, j.Array.ExitCodes)

	tasks, err := ta.tasks(context.Background(), id)
	must.NoError(t, err)
	must.SliceLen(t, 20, tasks)
	for _, task := range tasks {
		dir := filepath.Join(ta.jobDir(id), strconv.Itoa(task.TaskID))
		out, err := os.ReadFile(filepath.Join(dir, "god.log"))
		must.NoError(t, err)
		must.Eq(t, fmt.Sprintf("%d 1 20 1 %d\n", task.TaskID, task.TaskID), string(out))
		runs, _ := os.ReadFile(filepath.Join(dir, "runs"))
		must.Eq(t, "run\n", string(runs), must.Sprintf("task %d ran once", task.TaskID))
	}
}

// The throttle can change while the array runs.
func TestArray_ThrottleUpdate(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "arr", Command: "sleep 4", Array: "4", Throttle: 1, Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
	waitRunningCount := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for ta.runningContainers() != n {
			if time.Now().After(deadline) {
				t.Fatalf("never %d tasks running at once", n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitRunningCount(1)
	time.Sleep(time.Second)
	must.Eq(t, 1, ta.runningContainers(), must.Sprint("throttle 1"))
	_, err := ta.Update(context.Background(), alice, id, &api.JobUpdate{Throttle: new(3)})
	must.NoError(t, err)
	waitRunningCount(3)
	_, err = ta.Stop(context.Background(), alice, id)
	must.NoError(t, err)
	ta.waitOver(alice, id)
}

// Stopping an array stops every task and leaves no container.
func TestArray_StopParent(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "arr", Command: "sleep 300", Array: "1:5", Throttle: 2, Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
	deadline := time.Now().Add(20 * time.Second)
	for ta.runningContainers() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_, err := ta.Stop(context.Background(), alice, id)
	must.NoError(t, err)
	ta = ta.restart() // the stop goes on across a restart
	j := ta.waitOver(alice, id)
	must.Eq(t, api.SecondaryKilled, j.Status.Secondary)
	must.Eq(t, api.ExitKilled, exitCode(j))
	must.Eq(t, map[string]int{"over": 5}, j.Array.States)
	for range 100 {
		if states, _ := ta.exec.List(context.Background()); len(states) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("containers left after stopping the array")
}

// afterok runs after a success and is never satisfied by a failure;
// afternotok the reverse; unknown ids are refused at submit.
func TestDependencies(t *testing.T) {
	ta := startAgent(t, nil)
	alice, bob := testUser(t, aliceUID), testUser(t, bobUID)
	ok := ta.submit(alice, api.JobSpec{Name: "ok", Command: "sleep 0.5"})
	bad := ta.submit(alice, api.JobSpec{Name: "bad", Command: "sleep 0.5; exit 2"})
	afterOK := ta.submit(alice, api.JobSpec{Name: "a", Command: "echo ran", DependsOn: []string{fmt.Sprintf("afterok:%d", ok)}})
	notOK := ta.submit(alice, api.JobSpec{Name: "b", Command: "echo ran", DependsOn: []string{fmt.Sprintf("afternotok:%d", ok)}})
	onFail := ta.submit(alice, api.JobSpec{Name: "c", Command: "echo ran", DependsOn: []string{fmt.Sprintf("afternotok:%d", bad)}})
	never := ta.submit(alice, api.JobSpec{Name: "d", Command: "echo ran", DependsOn: []string{fmt.Sprintf("afterok:%d", bad)}})
	any := ta.submit(alice, api.JobSpec{Name: "e", Command: "echo ran", DependsOn: []string{strconv.FormatInt(bad, 10), strconv.FormatInt(ok, 10)}})

	j, err := ta.Job(context.Background(), alice, afterOK, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.StatePending, j.Status.Primary)

	for _, id := range []int64{afterOK, onFail, any} {
		j := ta.waitOver(alice, id)
		must.Eq(t, 0, exitCode(j), must.Sprintf("job %d ran", id))
		must.Eq(t, "ran\n", ta.readJobFile(id, "god.log"))
	}
	for id, dep := range map[int64]int64{notOK: ok, never: bad} {
		j := ta.waitOver(alice, id)
		must.Eq(t, api.SecondaryDependency, j.Status.Secondary)
		must.StrContains(t, j.Status.Reason, fmt.Sprintf("job %d", dep))
		must.Nil(t, j.Status.ExitCode)
	}
	okJob, _ := ta.Job(context.Background(), alice, ok, 0, 0)
	afterJob, _ := ta.Job(context.Background(), alice, afterOK, 0, 0)
	must.False(t, afterJob.Dates.Started.Before(*okJob.Dates.Ended), must.Sprint("afterok started after its dependency ended"))

	_, err = ta.Submit(context.Background(), alice, &api.JobSpec{Name: "x", Command: "true", DependsOn: []string{"afterok:999999"}})
	must.ErrorContains(t, err, "job refused")
	must.StrContains(t, err.(*Error).Fields[0].Message, "job 999999 not found")
	_, err = ta.Submit(context.Background(), bob, &api.JobSpec{Name: "x", Command: "true", DependsOn: []string{strconv.FormatInt(ok, 10)}})
	must.ErrorContains(t, err, "job refused")
	must.StrContains(t, err.(*Error).Fields[0].Message, "belongs to another user")
}

// A held job does not start until released.
func TestHoldRelease(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	id := ta.submit(alice, api.JobSpec{Name: "held", Command: "echo ran", Hold: true})
	j, err := ta.Job(ctx, alice, id, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.SecondaryHeld, j.Status.Secondary)
	must.Eq(t, "god-alice", j.HeldBy)
	time.Sleep(time.Second)
	j, _ = ta.Job(ctx, alice, id, 0, 0)
	must.Eq(t, api.StatePending, j.Status.Primary, must.Sprint("held jobs wait"))

	// Survives a restart.
	ta = ta.restart()
	time.Sleep(500 * time.Millisecond)
	j, _ = ta.Job(ctx, alice, id, 0, 0)
	must.Eq(t, api.SecondaryHeld, j.Status.Secondary)

	_, err = ta.Release(ctx, testUser(t, bobUID), id)
	must.ErrorContains(t, err, "belongs to another user")
	_, err = ta.Release(ctx, alice, id)
	must.NoError(t, err)
	j = ta.waitOver(alice, id)
	must.Eq(t, 0, exitCode(j))

	_, err = ta.Hold(ctx, alice, id)
	must.ErrorContains(t, err, "only pending jobs can be held")
}

// Suspend freezes every process of the job; resume lets them go on; both
// survive an agent restart.
func TestSuspendResume(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	ctx := context.Background()
	id := ta.submit(alice, api.JobSpec{Name: "counter", Command: `(i=0; while true; do i=$((i+1)); echo $i > child.tmp && mv child.tmp child; sleep 0.1; done) & i=0; while true; do i=$((i+1)); echo $i > count.tmp && mv count.tmp count; sleep 0.1; done`})
	ta.waitRunning(alice, id)
	read := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(ta.jobDir(id), name))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	time.Sleep(500 * time.Millisecond)
	j, err := ta.Suspend(ctx, alice, id)
	must.NoError(t, err)
	must.Eq(t, api.SecondarySuspended, j.Status.Secondary)
	time.Sleep(300 * time.Millisecond)
	a1, c1 := read("count"), read("child")
	time.Sleep(1500 * time.Millisecond)
	must.Eq(t, a1, read("count"), must.Sprint("frozen"))
	must.Eq(t, c1, read("child"), must.Sprint("child frozen too"))

	ta = ta.restart()
	time.Sleep(500 * time.Millisecond)
	must.Eq(t, a1, read("count"), must.Sprint("still frozen after a restart"))
	j, err = ta.Job(ctx, alice, id, 0, 0)
	must.NoError(t, err)
	must.Eq(t, api.SecondarySuspended, j.Status.Secondary)

	_, err = ta.Resume(ctx, alice, id)
	must.NoError(t, err)
	time.Sleep(1500 * time.Millisecond)
	must.Greater(t, a1, read("count"))
	must.Greater(t, c1, read("child"))
	j, _ = ta.Job(ctx, alice, id, 0, 0)
	must.Eq(t, "", j.Status.Secondary)

	_, err = ta.Suspend(ctx, alice, id)
	must.NoError(t, err)
	_, err = ta.Stop(ctx, alice, id) // stopping a suspended job works
	must.NoError(t, err)
	j = ta.waitOver(alice, id)
	must.Eq(t, api.ExitKilled, exitCode(j))
	_, err = ta.Suspend(ctx, alice, id)
	must.ErrorContains(t, err, "only running jobs can be suspended")
}

// A job that outlives its max lifespan is killed with the reason, also
// when the deadline passes across an agent restart.
func TestLifespan(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "long", Command: "sleep 300", MaxLifespan: "3s"})
	ta.waitRunning(alice, id)
	ta = ta.restart()
	j := ta.waitOver(alice, id)
	must.Eq(t, api.SecondaryKilled, j.Status.Secondary)
	must.Eq(t, "max lifespan reached", j.Status.Reason)
	must.Eq(t, api.ExitKilled, exitCode(j))
	ran := j.Dates.Ended.Sub(*j.Dates.Started)
	must.Greater(t, 3*time.Second, ran+100*time.Millisecond)
	must.Less(t, 30*time.Second, ran)
}

// An array and a dependency chain both go on across an agent restart in
// the middle: every task runs once, the dependant runs after.
func TestArrayAndDepsAcrossRestart(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	arr := ta.submit(alice, api.JobSpec{Name: "arr", Command: "echo run >> runs; sleep 0.5", Array: "1:6", Throttle: 2, Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
	after := ta.submit(alice, api.JobSpec{Name: "after", Command: "echo ran", DependsOn: []string{fmt.Sprintf("afterok:%d", arr)}})
	time.Sleep(700 * time.Millisecond)
	ta = ta.restart()
	j := ta.waitOver(alice, arr)
	must.Eq(t, 0, exitCode(j))
	tasks, err := ta.tasks(context.Background(), arr)
	must.NoError(t, err)
	for _, task := range tasks {
		runs, _ := os.ReadFile(filepath.Join(ta.jobDir(arr), strconv.Itoa(task.TaskID), "runs"))
		must.Eq(t, "run\n", string(runs), must.Sprintf("task %d ran once", task.TaskID))
	}
	j = ta.waitOver(alice, after)
	must.Eq(t, 0, exitCode(j))
}

// With the "hold" policy, a job whose dependency can never be satisfied is
// held with the reason instead of ended.
func TestDependencies_HoldPolicy(t *testing.T) {
	ta := startAgent(t, func(c *config.Config) { c.UnsatisfiableDependencies = "hold" })
	alice := testUser(t, aliceUID)
	bad := ta.submit(alice, api.JobSpec{Name: "bad", Command: "exit 1"})
	dep := ta.submit(alice, api.JobSpec{Name: "d", Command: "echo ran", DependsOn: []string{fmt.Sprintf("afterok:%d", bad)}})
	j := ta.waitStatus(alice, dep, "held", func(s api.Status) bool { return s.Secondary == api.SecondaryHeld })
	must.Eq(t, api.StatePending, j.Status.Primary)
	must.StrContains(t, j.Status.Reason, "can never be satisfied")
	_, err := ta.Stop(context.Background(), alice, dep)
	must.NoError(t, err)
}

// A stepped array never goes past its end, and its tasks see the real last
// index; task 0 is task 0.
func TestArray_Step(t *testing.T) {
	ta := startAgent(t, nil)
	alice := testUser(t, aliceUID)
	id := ta.submit(alice, api.JobSpec{Name: "step", Command: `echo "$GODOCKER_TASK_ID $GODOCKER_TASK_LAST $GODOCKER_TASK_STEP"`, Array: "0:8:3", Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
	j := ta.waitOver(alice, id)
	must.Eq(t, 3, j.Array.Tasks)
	must.Eq(t, 6, j.Array.Last)
	for i, want := range []string{"0 6 3\n", "3 6 3\n", "6 6 3\n"} {
		task, err := ta.Job(context.Background(), alice, j.Array.FirstTaskID+int64(i), 0, 0)
		must.NoError(t, err)
		must.NotNil(t, task.TaskID)
		must.Eq(t, i*3, *task.TaskID)
		out, err := os.ReadFile(filepath.Join(ta.jobDir(id), strconv.Itoa(i*3), "god.log"))
		must.NoError(t, err)
		must.Eq(t, want, string(out))
	}
	// Stopping a finished array changes nothing; a stopped one says so.
	stopped := ta.submit(alice, api.JobSpec{Name: "s", Command: "sleep 300", Array: "2", Resources: &api.Resources{CPU: 0.1, Memory: "16MiB"}})
	for { // an array's version moves with the array, not its tasks: poll
		j, err := ta.Job(context.Background(), alice, stopped, 0, 0)
		must.NoError(t, err)
		if j.Array.States["running"] > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err := ta.Stop(context.Background(), alice, stopped)
	must.NoError(t, err)
	j = ta.waitOver(alice, stopped)
	must.Eq(t, "stopped by request", j.Status.Reason)
}
