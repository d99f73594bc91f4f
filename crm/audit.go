package crm

import (
	"context"
	"log/slog"
	"time"
)

// AuditEvent records one call the Client made to a CRM: who (the CRM), what
// (operation, object, record ids, field names), when, how long, and how it
// ended. It never holds field values, so an audit log is not a second copy of
// the personal data it describes.
type AuditEvent struct {
	Time      time.Time
	Duration  time.Duration
	CRM       string
	Operation string // describe, get, query, changes, write, bulk_write, search, ...
	Object    string
	Records   int // records read, or writes sent
	Failed    int // writes that failed
	IDs       []string
	Writes    []AuditWrite // for write operations, one per write, in order
	Err       error        // the call's error, if the whole call failed
}

// AuditWrite is one write within an audited batch.
type AuditWrite struct {
	Op            Op
	ID            string   // the record id (after the write, when it succeeded)
	ExternalField string   // the upsert key's field; its value is not kept
	Fields        []string // the names of the fields written, sorted
	Kind          Kind     // KindUnknown when the write succeeded
}

// Auditor receives audit events. Audit is called synchronously after each
// call, so an implementation that does I/O should buffer.
type Auditor interface {
	Audit(ctx context.Context, ev AuditEvent)
}

// AuditFunc adapts a function to an Auditor.
type AuditFunc func(ctx context.Context, ev AuditEvent)

// Audit calls f.
func (f AuditFunc) Audit(ctx context.Context, ev AuditEvent) { f(ctx, ev) }

// SlogAuditor writes each audit event as one structured log record at Info
// level (Warn when the call or a write failed).
func SlogAuditor(l *slog.Logger) Auditor {
	return AuditFunc(func(ctx context.Context, ev AuditEvent) {
		level := slog.LevelInfo
		attrs := []slog.Attr{
			slog.String("crm", ev.CRM),
			slog.String("operation", ev.Operation),
			slog.String("object", ev.Object),
			slog.Int("records", ev.Records),
			slog.Duration("duration", ev.Duration),
		}
		if ev.Failed > 0 {
			level = slog.LevelWarn
			attrs = append(attrs, slog.Int("failed", ev.Failed))
		}
		if ev.Err != nil {
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("error", ev.Err.Error()))
		}
		l.LogAttrs(ctx, level, "crm call", attrs...)
	})
}

func auditWrites(ws []Write) []AuditWrite {
	out := make([]AuditWrite, len(ws))
	for i, w := range ws {
		out[i] = AuditWrite{Op: w.Op, ID: w.ID, ExternalField: w.ExternalField, Fields: w.Fields.Names()}
	}
	return out
}
