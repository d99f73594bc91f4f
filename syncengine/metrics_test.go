package syncengine_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/crmkit/crmkit/syncengine"
)

// A run's report reaches OpenTelemetry as counters.
func TestRunMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	e := newEnv(t, withEngineOptions(syncengine.WithMeterProvider(mp)))
	seedOverlap(e)
	e.run()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range s.DataPoints {
					sums[m.Name] += dp.Value
				}
			}
		}
	}
	if sums["crmkit.sync.read"] != 6 || sums["crmkit.sync.runs"] != 1 || sums["crmkit.sync.writes"] == 0 || sums["crmkit.sync.calls"] == 0 {
		t.Fatalf("metrics %v: want 6 changes read, 1 run, some writes and calls", sums)
	}
}
