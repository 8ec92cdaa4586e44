package store_test

import (
	"testing"

	"github.com/godocker/god/store"
	"github.com/godocker/god/store/sqlite"
	"github.com/godocker/god/store/storetest"
)

// TestSwitch: a Switch over a store behaves as the store.
func TestSwitch(t *testing.T) {
	open := func(t *testing.T) store.Store {
		st, err := sqlite.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return store.NewSwitch(st)
	}
	storetest.Run(t, open)
	storetest.RunRecords(t, func(t *testing.T) storetest.RecordStore {
		return open(t).(storetest.RecordStore)
	})
}
