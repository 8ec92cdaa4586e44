package api

import (
	"context"
	"net/http"
)

// MaxBatch is the most jobs one batch submit may carry.
const MaxBatch = 10000

// BatchItem is one job of a batch submit: its spec and, optionally, its
// idempotency key (as the Idempotency-Key header of a single submit).
type BatchItem struct {
	Spec JobSpec `json:"spec"`
	// Key makes the item safe to send again: the agent keeps one job per
	// key and caller. Empty: no key.
	Key string `json:"key,omitempty"`
	// Source names where the spec came from (a file), for error messages.
	Source string `json:"source,omitempty"`
}

// BatchSubmitRequest is the body of POST /v1/jobs/batch.
type BatchSubmitRequest struct {
	Jobs []BatchItem `json:"jobs"`
}

// BatchSubmitResponse answers POST /v1/jobs/batch: one entry per item, in
// order.
type BatchSubmitResponse struct {
	Jobs []SubmitResponse `json:"jobs"`
}

// SubmitBatch submits several jobs in one request. Every spec is checked
// first: if any is refused, the error names each refused item's fields as
// "jobs[i].field" (with its Source) and no job is stored. Once the answer
// comes, every job is durable. Items without a key get a random one, so
// the client can retry an answer it lost without creating jobs twice.
func (j *Jobs) SubmitBatch(ctx context.Context, items []BatchItem) (*BatchSubmitResponse, error) {
	body := &BatchSubmitRequest{Jobs: make([]BatchItem, len(items))}
	for i, it := range items {
		if it.Key == "" {
			it.Key = newSubmitKey()
		}
		body.Jobs[i] = it
	}
	// Every item is keyed: a lost answer may be retried (see send).
	req, err := j.c.newRequest(context.WithValue(ctx, idempotentRequest{}, true), http.MethodPost, "/v1/jobs/batch", nil, body)
	if err != nil {
		return nil, err
	}
	var out BatchSubmitResponse
	if err := j.c.doRequest(req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// idempotentRequest marks a request whose body carries its own
// idempotency keys, so that send may retry it as a keyed submit.
type idempotentRequest struct{}
