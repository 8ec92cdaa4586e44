package agent

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/shoenig/test/must"

	"github.com/godocker/god/plugins/scheduler/external"
	"github.com/godocker/god/plugins/scheduler/fifo"
)

// BenchmarkCycle_plugin is BenchmarkCycle's fifo pass over 100,000 pending
// jobs with fifo served by a plugin (the external package's test plugin),
// to compare with BenchmarkCycle/fifo/pending=100000:
//
//	go test -run '^$' -bench 'Cycle(_plugin)?/.*fifo.*100000|Cycle_plugin' -benchtime 20x -count 5 ./agent/
func BenchmarkCycle_plugin(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "god-scheduler-test")
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin,
		"../plugins/scheduler/external/testdata/testplugin").CombinedOutput()
	must.NoError(b, err, must.Sprint(string(out)))
	var logs strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Error})
	p, err := external.New(log, bin, map[string]string{"policy": "fifo"}, fifo.Scheduler{})
	must.NoError(b, err)
	defer p.Close()
	b.Run("fifo/pending=100000", func(b *testing.B) { benchCycleWith(b, p, 100_000) })
	must.Eq(b, "", logs.String(), must.Sprint("the plugin must answer, not be bypassed"))
}
