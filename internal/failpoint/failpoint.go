// Package failpoint lets the fault-matrix tests crash the agent at a named
// step (after a container is created, before a job's end is recorded...),
// deterministically instead of with sleeps. In a normal build Hit does
// nothing and costs nothing; a binary built with `-tags failpoints` kills
// itself with SIGKILL at the step named by GOD_FAILPOINT, as kill -9
// would.
package failpoint

// Steps that tests can crash at, in the order a job meets them.
const (
	AfterCreate      = "after-create"       // the container exists, not started
	AfterStart       = "after-start"        // started, not recorded running
	AfterRecordStart = "after-record-start" // recorded running
	BeforeRecordEnd  = "before-record-end"  // ended, end not recorded
	AfterRecordEnd   = "after-record-end"   // end recorded, container not removed
)
