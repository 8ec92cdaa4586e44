package command

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shoenig/test/must"

	"github.com/godocker/god/api"
)

// gpuAgent answers the routes `god job run` and `god usage` use, and keeps
// the specs it was sent.
func gpuAgent(t *testing.T) (*httptest.Server, func() []api.JobSpec) {
	var mu sync.Mutex
	var specs []api.JobSpec
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		var s api.JobSpec
		must.NoError(t, json.NewDecoder(r.Body).Decode(&s))
		mu.Lock()
		specs = append(specs, s)
		mu.Unlock()
		reply(w, &api.SubmitResponse{ID: 9, Msg: "Task added"})
	})
	mux.HandleFunc("GET /v1/usage/group/{group}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, &api.GroupUsage{Group: r.PathValue("group"), GID: 23100, CPUHours: 2, MemoryGiBHours: 4, GPUHours: 0.5, EffectiveHours: 8})
	})
	mux.HandleFunc("GET /v1/usage/project/{name}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, &api.ProjectUsage{Project: r.PathValue("name"), Priority: 50, RunningJobs: 1, RunningCPU: 2, RunningMemory: 1 << 30, RunningGPUs: 1, Window: "30d",
			CPUHours: 1.5, MemoryGiBHours: 3, GPUHours: 0.25, EffectiveHours: 5.25})
	})
	mux.HandleFunc("GET /v1/usage", func(w http.ResponseWriter, r *http.Request) {
		reply(w, []*api.UsageEntry{{User: "alice", UID: 23001, Priority: 50, CPUHours: 1, GPUHours: 0.5, EffectiveHours: 6, RunningGPUs: 2}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func() []api.JobSpec {
		mu.Lock()
		defer mu.Unlock()
		return append([]api.JobSpec(nil), specs...)
	}
}

// -gpu replaces the spec's GPUs; a bad value is refused before anything
// is sent.
func TestJobRun_GPUFlag(t *testing.T) {
	useConfigDir(t)
	srv, sent := gpuAgent(t)
	t.Setenv("GOD_ADDR", srv.URL)
	path := filepath.Join(t.TempDir(), "job.hcl")
	must.NoError(t, os.WriteFile(path, []byte("job \"x\" {\n  command = \"nvidia-smi\"\n  resources {\n    gpu = 1\n  }\n}\n"), 0o644))

	_, errOut, code := run(t, "job", "run", path)
	must.Eq(t, 0, code, must.Sprint(errOut))
	_, errOut, code = run(t, "job", "run", "-gpu", "3", path)
	must.Eq(t, 0, code, must.Sprint(errOut))
	_, errOut, code = run(t, "job", "run", "-gpu=0", path)
	must.Eq(t, 0, code, must.Sprint(errOut))
	got := sent()
	must.SliceLen(t, 3, got)
	must.Eq(t, 1, got[0].Resources.GPU)
	must.Eq(t, 3, got[1].Resources.GPU)
	must.Eq(t, 0, got[2].Resources.GPU)

	for _, bad := range []string{"-1", "1.5", "65"} {
		_, errOut, code = run(t, "job", "run", "-gpu", bad, path)
		must.Eq(t, 1, code)
		must.StrContains(t, errOut, "the number of GPUs must be a whole number from 0 to 64")
	}
	must.SliceLen(t, 3, sent(), must.Sprint("nothing sent for a bad -gpu"))
}

// god usage shows GPU-hours; -project and -group show decayed usage.
func TestUsage_GPUsProjectGroup(t *testing.T) {
	useConfigDir(t)
	srv, _ := gpuAgent(t)
	t.Setenv("GOD_ADDR", srv.URL)
	out, errOut, code := run(t, "usage")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "GPU Hours")
	must.StrContains(t, out, "Running GPUs")
	must.StrContains(t, out, "0.500")

	out, errOut, code = run(t, "usage", "-project", "physics")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "1 job(s), 2 cpu, 1GiB, 1 GPU(s)")
	must.StrContains(t, out, "5.250 effective hours (1.500 core-hours, 3.000 GiB-hours, 0.250 GPU-hours)")

	out, errOut, code = run(t, "usage", "-group", "lab")
	must.Eq(t, 0, code, must.Sprint(errOut))
	must.StrContains(t, out, "lab (gid 23100)")
	must.StrContains(t, out, "8.000 effective hours (2.000 core-hours, 4.000 GiB-hours, 0.500 GPU-hours)")

	_, errOut, code = run(t, "usage", "-group", "lab", "-project", "physics")
	must.Eq(t, 1, code)
	must.StrContains(t, errOut, "not both")
}

// A job's GPUs show with its resources, when it has some.
func TestFormatJob_GPUs(t *testing.T) {
	j := &api.Job{ID: 7, CPU: 2, Memory: 1 << 30, GPU: 2}
	must.StrContains(t, formatJob(j), "cpu 2, memory 1GiB, gpu 2")
	j.GPU = 0
	must.StrNotContains(t, formatJob(j), "gpu")
}
