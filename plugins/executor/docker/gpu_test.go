package docker

import (
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/executor"
)

// A job that asks for GPUs gets the engine's NVIDIA device request, as
// `docker run --gpus N` sends it; other jobs get none. (No GPU here: the
// request itself is what can be checked.)
func TestHostConfigGPUs(t *testing.T) {
	e := &Executor{cfg: Config{PidsLimit: 4096}}
	tk := &executor.Task{JobID: 1, UID: 1000, GID: 1000, CPU: 1, Memory: 1 << 30}
	must.SliceEmpty(t, e.hostConfig(tk).DeviceRequests)

	tk.GPUs = 2
	hc := e.hostConfig(tk)
	must.Eq(t, []container.DeviceRequest{{Driver: "nvidia", Count: 2, Capabilities: [][]string{{"gpu"}}}}, hc.DeviceRequests)
	must.False(t, hc.Privileged, must.Sprint("GPUs do not loosen the confinement"))
	must.Eq(t, []string{"ALL"}, hc.CapDrop)
	must.SliceEmpty(t, hc.Devices)
}
