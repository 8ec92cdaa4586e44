package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/godocker/god/plugins/executor"
	"github.com/godocker/god/plugins/executor/docker"
	"github.com/godocker/god/plugins/executor/executortest"
)

// TestContract runs the executors' shared contract against the local
// Docker engine.
func TestContract(t *testing.T) {
	executortest.Run(t, executortest.Harness{
		Open: func(t *testing.T, instance, storeID string) executor.Executor {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e, err := docker.New(ctx, docker.Config{Instance: instance, StoreID: storeID, PullTimeout: 15 * time.Second})
			if err != nil {
				unavailable(t, "no Docker engine answers (%v); run `make testenv` as root", err)
			}
			if _, err := engineClient(t).ImageInspect(ctx, testImage); err != nil {
				e.Close()
				unavailable(t, "test image %s is not on the engine (%v); run `make testenv` as root", testImage, err)
			}
			return e
		},
		Image:      testImage,
		UID:        aliceUID,
		GID:        aliceGID,
		Groups:     []int{labGID},
		SetuidBash: "/bin/bash-static",
		ReportsOOM: true,
	})
}
