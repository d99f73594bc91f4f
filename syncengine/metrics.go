package syncengine

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the engine's OpenTelemetry instruments, recorded once per run
// from its Report, so that a dashboard shows the same numbers the report
// does.
type metrics struct {
	pairing  attribute.KeyValue
	read     metric.Int64Counter
	writes   metric.Int64Counter
	echoes   metric.Int64Counter
	conflict metric.Int64Counter
	retried  metric.Int64Counter
	dead     metric.Int64Counter
	deferred metric.Int64Counter
	calls    metric.Int64Counter
	runs     metric.Int64Counter
	duration metric.Float64Histogram
}

func newMetrics(mp metric.MeterProvider, pairing string) (*metrics, error) {
	m := mp.Meter("github.com/crmkit/crmkit/syncengine")
	out := &metrics{pairing: attribute.String("crmkit.pairing", pairing)}
	var err error
	counter := func(dst *metric.Int64Counter, name, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithDescription(desc))
		}
	}
	counter(&out.read, "crmkit.sync.read", "Changes read from a side's feed.")
	counter(&out.writes, "crmkit.sync.writes", "Writes that landed, by side and operation.")
	counter(&out.echoes, "crmkit.sync.echoes", "Changes recognised as the engine's own writes and skipped.")
	counter(&out.conflict, "crmkit.sync.conflicts", "Conflicts, by resolution.")
	counter(&out.retried, "crmkit.sync.retried", "Failed writes scheduled again.")
	counter(&out.dead, "crmkit.sync.dead_lettered", "Writes given up on.")
	counter(&out.deferred, "crmkit.sync.deferred", "Writes held back for a spent API quota.")
	counter(&out.calls, "crmkit.sync.calls", "Calls made to a side.")
	counter(&out.runs, "crmkit.sync.runs", "Runs, by outcome.")
	if err == nil {
		out.duration, err = m.Float64Histogram("crmkit.sync.run.duration", metric.WithUnit("s"), metric.WithDescription("How long a run took."))
	}
	return out, err
}

func (m *metrics) record(ctx context.Context, r *Report, runErr error) {
	side := func(s Side) attribute.KeyValue { return attribute.String("crmkit.side", s.String()) }
	add := func(c metric.Int64Counter, n int, attrs ...attribute.KeyValue) {
		if n > 0 {
			c.Add(ctx, int64(n), metric.WithAttributes(append(attrs, m.pairing)...))
		}
	}
	for _, s := range []Side{App, CRM} {
		pick := func(c Counts) int {
			if s == App {
				return c.App
			}
			return c.CRM
		}
		add(m.read, pick(r.Read), side(s))
		add(m.calls, pick(r.Calls), side(s))
		for op, c := range map[string]Counts{"create": r.Created, "update": r.Updated, "delete": r.Deleted, "archive": r.Archived} {
			add(m.writes, pick(c), side(s), attribute.String("crmkit.op", op))
		}
	}
	add(m.echoes, r.Echoes)
	for res, n := range r.Conflicts {
		add(m.conflict, n, attribute.String("crmkit.resolution", res))
	}
	add(m.retried, r.Retried)
	add(m.dead, r.DeadLettered)
	add(m.deferred, r.Deferred)
	outcome := "ok"
	if runErr != nil {
		outcome = "error"
	}
	add(m.runs, 1, attribute.String("crmkit.outcome", outcome))
	m.duration.Record(ctx, r.Finished.Sub(r.Started).Seconds(), metric.WithAttributes(m.pairing))
}
