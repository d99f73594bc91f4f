package crm

import (
	"context"
	"errors"
	"fmt"
)

// WriteResults holds one result per write, in the order of the writes.
type WriteResults []WriteResult

// Failed returns the indexes of the writes that failed.
func (rs WriteResults) Failed() []int {
	var out []int
	for i, r := range rs {
		if r.Err != nil {
			out = append(out, i)
		}
	}
	return out
}

// Err joins the failures, each prefixed with its write's index, or returns
// nil when every write succeeded. errors.Is and errors.As see through it.
func (rs WriteResults) Err() error {
	var errs []error
	for i, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("write %d: %w", i, r.Err))
		}
	}
	return errors.Join(errs...)
}

// Write applies writes to one object and returns one result per write, in
// order, so that one bad record never hides the outcome of the others.
//
// It checks each write's shape first (an update needs an ID, an upsert an
// external field and value): a malformed write fails with
// KindInvalidRequest and is not sent. With [WithSchemaChecks], each write's
// fields are also checked against the object's described schema, and a write
// to an unknown or read-only field, or with a value of the wrong type, fails
// with KindValidation without being sent. It then sends the rest in batches of
// the driver's MaxBatchSize, or through the driver's bulk API when there are
// more than its BulkThreshold (see WithBulk), in runs of one operation that
// keep the writes' order. When a whole batch fails, every write in it carries
// that error. When ctx ends, the writes not yet sent fail with KindUnavailable
// wrapping ctx's error (safe to send again), the writes of a batch in flight
// fail with KindUnknown (they may have been applied), and Write returns ctx's
// error; otherwise the error is nil and failures are in the results.
func (c *Client) Write(ctx context.Context, object string, writes []Write, opts ...CallOption) (WriteResults, error) {
	o := collect(opts)
	results := make(WriteResults, len(writes))
	var schema *Schema
	if c.schemas != nil && len(writes) > 0 {
		s, err := c.cachedSchema(ctx, object)
		if err != nil {
			// Without the schema nothing can be checked, so nothing is sent.
			for i := range results {
				results[i] = WriteResult{ID: writes[i].ID, Err: err}
			}
			return results, ctx.Err()
		}
		schema = s
	}
	pending := make([]int, 0, len(writes)) // indexes of well-formed writes
	for i := range writes {
		err := checkWrite(&writes[i])
		if err == nil && schema != nil {
			err = checkFields(schema, &writes[i])
		}
		if err != nil {
			err.CRM, err.Operation, err.Object, err.RecordID = c.info.Name, writes[i].Op.String(), object, writes[i].ID
			results[i] = WriteResult{ID: writes[i].ID, Err: err}
			continue
		}
		pending = append(pending, i)
	}

	op, send := "write", c.driver.Write
	var chunks [][]int
	if bw, ok := c.driver.(BulkWriter); ok && c.useBulk(o.bulk, len(pending)) {
		op, send, chunks = "bulk_write", bw.BulkWrite, runsByOp(writes, pending)
	} else {
		size := c.info.MaxBatchSize
		if o.batchSize > 0 && o.batchSize < size {
			size = o.batchSize
		}
		for start := 0; start < len(pending); start += size {
			chunks = append(chunks, pending[start:min(start+size, len(pending))])
		}
	}
	for n, idx := range chunks {
		if err := ctx.Err(); err != nil {
			for _, rest := range chunks[n:] {
				markUnsent(results, writes, rest, err)
			}
			return results, err
		}
		batch := make([]Write, len(idx))
		for j, i := range idx {
			batch[j] = writes[i]
		}
		c.sendBatch(ctx, op, object, batch, idx, results, send)
	}
	return results, ctx.Err()
}

func (c *Client) useBulk(mode BulkMode, n int) bool {
	switch mode {
	case BulkNever:
		return false
	case BulkAlways:
		return n > 0
	}
	return c.info.BulkThreshold > 0 && n > c.info.BulkThreshold
}

// runsByOp cuts the writes into runs of one operation kind, since a bulk job
// takes one operation. Runs keep the writes' order, so a delete that follows
// an update of the same record is still applied after it.
func runsByOp(writes []Write, pending []int) [][]int {
	var runs [][]int
	for k, i := range pending {
		if k == 0 || writes[i].Op != writes[pending[k-1]].Op {
			runs = append(runs, nil)
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], i)
	}
	return runs
}

// sendBatch makes one driver call and spreads its outcome over results.
func (c *Client) sendBatch(ctx context.Context, op, object string, batch []Write, idx []int, results WriteResults,
	send func(context.Context, WriteRequest) ([]WriteResult, error)) {
	var got []WriteResult
	err := c.call(ctx, op, object, func(ctx context.Context, ev *AuditEvent) (err error) {
		ev.Records = len(batch)
		ev.Writes = auditWrites(batch)
		got, err = send(ctx, WriteRequest{Object: object, Writes: batch})
		if err == nil && len(got) != len(batch) {
			err = &Error{Kind: KindUnknown, Message: fmt.Sprintf("the driver returned %d results for %d writes", len(got), len(batch))}
		}
		if err != nil {
			ev.Failed = len(batch)
			return err
		}
		for j := range got {
			if got[j].Err != nil {
				ev.Failed++
				ev.Writes[j].Kind = KindOf(got[j].Err)
			}
			ev.Writes[j].ID = got[j].ID
		}
		return nil
	})
	if err != nil {
		var ce *Error
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			// The batch may or may not have been applied: never call that
			// safely retryable, or a retried create could make a duplicate.
			err = &Error{Kind: KindUnknown, CRM: c.info.Name, Operation: op, Object: object, Err: err,
				Message: "outcome unknown: the context ended while this batch was in flight; re-read the records (or upsert by external id) before sending again"}
		case !errors.As(err, &ce):
			err = &Error{Kind: KindUnavailable, CRM: c.info.Name, Operation: op, Object: object, Err: err}
		}
		for j, i := range idx {
			results[i] = WriteResult{ID: batch[j].ID, Err: err}
		}
		return
	}
	for j, i := range idx {
		results[i] = got[j]
		if results[i].Err != nil {
			results[i].Err = annotate(results[i].Err, c.info.Name, batch[j].Op.String(), object)
		}
	}
}

// markUnsent fails the writes that were never sent because ctx ended; they
// are safe to send again.
func markUnsent(results WriteResults, writes []Write, idx []int, cause error) {
	for _, i := range idx {
		results[i] = WriteResult{ID: writes[i].ID, Err: &Error{Kind: KindUnavailable, Message: "not sent: the context ended first", Err: cause}}
	}
}

// checkWrite refuses writes whose shape no driver could accept.
func checkWrite(w *Write) *Error {
	bad := func(format string, args ...any) *Error {
		return &Error{Kind: KindInvalidRequest, RecordID: w.ID, Message: fmt.Sprintf(format, args...)}
	}
	switch w.Op {
	case OpCreate:
		if w.ID != "" {
			return bad("a create cannot carry an ID (the CRM assigns it); use OpUpdate or OpUpsert")
		}
	case OpUpdate:
		if w.ID == "" {
			return bad("an update needs Write.ID; to create or update by an external key use OpUpsert")
		}
	case OpDelete:
		if w.ID == "" {
			return bad("a delete needs Write.ID")
		}
	case OpUpsert:
		if w.ExternalField == "" || w.ExternalValue == "" {
			return bad("an upsert needs Write.ExternalField and Write.ExternalValue (the external-id field and its value)")
		}
	default:
		return bad("Write.Op is %d: use OpCreate, OpUpdate, OpUpsert or OpDelete", w.Op)
	}
	return nil
}

// Create makes one record and returns its id.
func (c *Client) Create(ctx context.Context, object string, fields Fields) (string, error) {
	r, err := c.writeOne(ctx, object, Write{Op: OpCreate, Fields: fields})
	return r.ID, err
}

// Update changes the given fields of one record; fields not in the map are
// left as they are, and fields mapped to nil are cleared.
func (c *Client) Update(ctx context.Context, object, id string, fields Fields) error {
	_, err := c.writeOne(ctx, object, Write{Op: OpUpdate, ID: id, Fields: fields})
	return err
}

// Upsert creates or updates the record whose external-id field holds value.
func (c *Client) Upsert(ctx context.Context, object, externalField, value string, fields Fields) (WriteResult, error) {
	return c.writeOne(ctx, object, Write{Op: OpUpsert, ExternalField: externalField, ExternalValue: value, Fields: fields})
}

// Delete deletes one record.
func (c *Client) Delete(ctx context.Context, object, id string) error {
	_, err := c.writeOne(ctx, object, Write{Op: OpDelete, ID: id})
	return err
}

func (c *Client) writeOne(ctx context.Context, object string, w Write) (WriteResult, error) {
	rs, err := c.Write(ctx, object, []Write{w}, WithBulk(BulkNever))
	if err != nil && rs[0].Err == nil {
		return rs[0], err
	}
	return rs[0], rs[0].Err
}
