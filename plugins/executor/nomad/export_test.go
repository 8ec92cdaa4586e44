package nomad

import "time"

// SetClock replaces the executor's clock: replayed tests read the time at
// which Nomad answered when the exchange was recorded.
func (e *Executor) SetClock(now func() time.Time) { e.now = now }
