package swarm

// PretendRemote makes the executor take the manager's node for another
// one, as if it ran on a manager without tasks: every task then runs
// "elsewhere", so the paths for tasks on other nodes (stop through the
// service, state from the task status, no pause) run on a one-node swarm.
func PretendRemote(e *Executor) { e.nodeID, e.nodeName = "elsewhere-node-id", "elsewhere" }
