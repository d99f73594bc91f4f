package memory_test

import (
	"testing"
	"time"

	"github.com/crmkit/crmkit/syncengine"
	"github.com/crmkit/crmkit/syncengine/store/memory"
	"github.com/crmkit/crmkit/syncengine/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) syncengine.Store {
		return memory.New(memory.WithClock(now))
	})
}
