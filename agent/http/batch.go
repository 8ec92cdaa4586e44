package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/godocker/god/api"
)

// maxBatchBody bounds a batch submit's body: MaxBatch small specs, or
// fewer with long scripts.
const maxBatchBody = 64 << 20

// submitBatch serves POST /v1/jobs/batch: several jobs in one request,
// each with its own idempotency key, all stored or none.
func (s *server) submitBatch(_ http.ResponseWriter, r *http.Request, caller *api.Caller) (any, error) {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBatchBody))
	dec.DisallowUnknownFields()
	var req api.BatchSubmitRequest
	if err := dec.Decode(&req); err != nil {
		return nil, badRequest("invalid batch submit JSON: " + err.Error())
	}
	switch n := len(req.Jobs); {
	case n == 0:
		return nil, badRequest("empty batch", api.FieldError{Field: "jobs", Message: "send at least one job"})
	case n > api.MaxBatch:
		return nil, badRequest("batch too large", api.FieldError{Field: "jobs", Message: fmt.Sprintf("%d jobs, at most %d per request; split the batch", n, api.MaxBatch)})
	}
	var fe []api.FieldError
	for i, it := range req.Jobs {
		if it.Key != "" && !validSubmitKey(it.Key) {
			fe = append(fe, api.FieldError{Field: fmt.Sprintf("jobs[%d].key", i), Message: "use 1 to 128 printable ASCII characters without spaces (the god client sends a random one)"})
		}
	}
	if len(fe) > 0 {
		return nil, badRequest("invalid idempotency key", fe...)
	}
	jobs, err := s.b.SubmitBatch(r.Context(), caller, req.Jobs)
	if err != nil {
		return nil, err
	}
	out := &api.BatchSubmitResponse{Jobs: make([]api.SubmitResponse, len(jobs))}
	for i, j := range jobs {
		out.Jobs[i] = api.SubmitResponse{ID: j.ID, Msg: "Job submitted"}
	}
	return out, nil
}

// batchTarget names a batch's jobs for the audit log: their id range and
// count.
func batchTarget(jobs []api.SubmitResponse) string {
	lo, hi := jobs[0].ID, jobs[0].ID
	for _, j := range jobs {
		lo, hi = min(lo, j.ID), max(hi, j.ID)
	}
	if len(jobs) == 1 {
		return "job " + strconv.FormatInt(lo, 10)
	}
	return fmt.Sprintf("jobs %d..%d (%d)", lo, hi, len(jobs))
}
