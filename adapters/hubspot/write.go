package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

// batchInput is one input of a batch write.
type batchInput struct {
	ID                 string            `json:"id,omitempty"`
	IDProperty         string            `json:"idProperty,omitempty"`
	Properties         map[string]string `json:"properties,omitempty"`
	ObjectWriteTraceID string            `json:"objectWriteTraceId,omitempty"`
}

// batchResult is a batch endpoint's response: 200/201 with results, or 207
// with results and errors.
type batchResult struct {
	Status    string       `json:"status"`
	Results   []wireRecord `json:"results"`
	NumErrors int          `json:"numErrors"`
	Errors    []apiError   `json:"errors"`
}

// Write applies up to 100 writes to one object through HubSpot's batch
// endpoints: batch/create, batch/update, batch/upsert (keyed by the
// write's ExternalField as idProperty) and batch/archive. Consecutive writes
// of one operation go in one call, so 100 upserts cost one request; a key
// that repeats within a run starts a new call, since HubSpot refuses a batch
// that names a record twice.
//
// Every create, update and upsert input carries an objectWriteTraceId, so
// that HubSpot answers 207 with the failing inputs named rather than
// refusing the whole batch, and each result is matched to its write by it
// (HubSpot does not keep results in input order). An upsert keyed by a
// contact's email is all or nothing on HubSpot's side: one bad input fails
// the batch.
//
// A nil field value clears the property (HubSpot's ""). IfVersion is not
// supported: HubSpot has no conditional writes.
//
// Cancelling ctx during the first run fails the call with the context's
// error. Cancelling it later keeps the results of the runs already done:
// the writes of the run in flight fail with KindUnknown (they may have been
// applied; an upsert, safe to resend, with KindUnavailable), and the writes
// not yet sent with KindUnavailable, each wrapping the context's error.
func (d *Driver) Write(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(req.Writes) > MaxBatchSize {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "write", Object: req.Object,
			Message: fmt.Sprintf("%d writes in one call; HubSpot's batches take at most %d (crm.Client splits larger writes)", len(req.Writes), MaxBatchSize)}
	}
	s, err := d.schema(ctx, req.Object)
	if err != nil {
		if crm.KindOf(err) != crm.KindForbidden {
			return nil, err
		}
		// No scope to read the schema: write without type information
		// (HubSpot still checks every value).
		s = nil
	}
	results := make([]crm.WriteResult, len(req.Writes))
	inputs := make([]batchInput, len(req.Writes))
	ok := make([]bool, len(req.Writes))
	for i, w := range req.Writes {
		in, err := d.input(req.Object, s, i, &w)
		if err != nil {
			results[i] = crm.WriteResult{ID: w.ID, Err: err}
			continue
		}
		inputs[i], ok[i] = in, true
	}

	runs := runsOf(req.Writes, ok)
	var lastErr error
	failedRuns := 0
	for k, run := range runs {
		if ctxErr := ctx.Err(); ctxErr != nil && k > 0 {
			stopped(req.Object, req.Writes, runs[k:], nil, ctxErr, results)
			return results, nil
		}
		err := d.sendRun(ctx, req.Object, req.Writes, inputs, run, results)
		if err == nil {
			continue
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			if k == 0 {
				return nil, err // nothing has been written: the whole batch failed
			}
			// Earlier runs are done: keep their results, and say which
			// writes may have been applied and which were never sent.
			stopped(req.Object, req.Writes, runs[k+1:], run, ctxErr, results)
			return results, nil
		}
		failedRuns++
		lastErr = err
		for _, i := range run {
			results[i] = crm.WriteResult{ID: req.Writes[i].ID, Err: withRecord(err, req.Writes[i].ID)}
		}
	}
	if failedRuns == 1 && len(runs) == 1 && len(runs[0]) == len(req.Writes) {
		return nil, lastErr // the CRM refused the whole batch
	}
	return results, nil
}

// stopped fills the results of a Write cancelled after some runs were
// done: the writes of the run in flight may or may not have been applied
// (KindUnknown: re-read before writing again), except upserts, which name
// their record by key and may simply be sent again; the writes of the runs
// not sent are KindUnavailable and can be retried as they are.
func stopped(object string, writes []crm.Write, unsent [][]int, inFlight []int, cause error, results []crm.WriteResult) {
	for _, i := range inFlight {
		w := &writes[i]
		e := &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: w.Op.String(), Object: object, RecordID: w.ID, Err: cause,
			Message: "the write was cancelled while its batch was in flight, so its outcome is unknown: re-read the record before writing it again"}
		if w.Op == crm.OpUpsert {
			e.Kind = crm.KindUnavailable
			e.Message = "the write was cancelled while its batch was in flight; an upsert names its record by key, so sending it again is safe"
		}
		results[i] = crm.WriteResult{ID: w.ID, Err: e}
	}
	for _, run := range unsent {
		for _, i := range run {
			w := &writes[i]
			results[i] = crm.WriteResult{ID: w.ID, Err: &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: w.Op.String(), Object: object, RecordID: w.ID, Err: cause,
				Message: "not sent: the write was cancelled before its batch was sent; send it again"}}
		}
	}
}

// input checks one write and builds its batch input.
func (d *Driver) input(object string, s *crm.Schema, i int, w *crm.Write) (batchInput, error) {
	bad := func(kind crm.Kind, fields []string, format string, args ...any) error {
		return &crm.Error{Kind: kind, CRM: Name, Operation: w.Op.String(), Object: object, RecordID: w.ID, Fields: fields, Message: fmt.Sprintf(format, args...)}
	}
	if w.IfVersion != "" {
		return batchInput{}, bad(crm.KindUnsupported, nil, "HubSpot has no conditional writes, so Write.IfVersion cannot be honoured: leave it empty (the driver lists %q as unsupported)", crm.FeatureIfVersion)
	}
	in := batchInput{ObjectWriteTraceID: strconv.Itoa(i)}
	switch w.Op {
	case crm.OpCreate:
		if w.ID != "" {
			return in, bad(crm.KindInvalidRequest, nil, "a create cannot carry an ID (HubSpot assigns it); use OpUpdate or OpUpsert")
		}
	case crm.OpUpdate:
		if w.ID == "" {
			return in, bad(crm.KindInvalidRequest, nil, "an update needs Write.ID")
		}
		in.ID = w.ID
	case crm.OpUpsert:
		if w.ExternalField == "" || w.ExternalValue == "" {
			return in, bad(crm.KindInvalidRequest, nil, "an upsert needs Write.ExternalField (a unique property) and Write.ExternalValue")
		}
		in.ID, in.IDProperty = w.ExternalValue, w.ExternalField
		if s != nil {
			f, ok := s.Field(w.ExternalField)
			if !ok || !f.ExternalID {
				return in, bad(crm.KindValidation, []string{w.ExternalField}, "%s.%s is not a unique property, so it cannot key an upsert: use one of %v", object, w.ExternalField, s.ExternalIDFields())
			}
			in.IDProperty = f.Name
		}
	case crm.OpDelete:
		if w.ID == "" {
			return in, bad(crm.KindInvalidRequest, nil, "a delete needs Write.ID")
		}
		return batchInput{ID: w.ID}, nil
	default:
		return in, bad(crm.KindInvalidRequest, nil, "Write.Op is %d: use OpCreate, OpUpdate, OpUpsert or OpDelete", w.Op)
	}
	in.Properties = make(map[string]string, len(w.Fields))
	for name, v := range w.Fields {
		var f *crm.Field
		if s != nil {
			if fd, ok := s.Field(name); ok {
				f, name = fd, fd.Name
			}
		}
		text, err := toWire(f, v)
		if err != nil {
			return in, bad(crm.KindValidation, []string{name}, "%s.%s: %v", object, name, err)
		}
		in.Properties[name] = text
	}
	return in, nil
}

// runsOf cuts the well-formed writes into runs: consecutive writes of one
// operation, at most one per record or key, so each run is one batch call
// and writes apply in their order.
func runsOf(writes []crm.Write, ok []bool) [][]int {
	var runs [][]int
	var keys map[string]bool
	for i, w := range writes {
		if !ok[i] {
			continue
		}
		key := ""
		switch w.Op {
		case crm.OpUpdate, crm.OpDelete:
			key = w.ID
		case crm.OpUpsert:
			key = strings.ToLower(w.ExternalField + "\x00" + w.ExternalValue)
		}
		n := len(runs)
		if n == 0 || writes[runs[n-1][0]].Op != w.Op || (key != "" && keys[key]) {
			runs = append(runs, nil)
			keys = map[string]bool{}
			n++
		}
		runs[n-1] = append(runs[n-1], i)
		if key != "" {
			keys[key] = true
		}
	}
	return runs
}

var batchOp = map[crm.Op]string{crm.OpCreate: "create", crm.OpUpdate: "update", crm.OpUpsert: "upsert", crm.OpDelete: "archive"}

// sendRun sends one run as one batch call and fills its results. The error
// is the failure of the whole call.
func (d *Driver) sendRun(ctx context.Context, object string, writes []crm.Write, inputs []batchInput, run []int, results []crm.WriteResult) error {
	op := writes[run[0]].Op
	body := struct {
		Inputs []batchInput `json:"inputs"`
	}{Inputs: make([]batchInput, len(run))}
	for j, i := range run {
		body.Inputs[j] = inputs[i]
	}
	if op == crm.OpUpsert {
		// An upsert names its record by a key: sending it twice after a
		// lost response updates the same record, so it may be retried.
		ctx = retry.MarkIdempotent(ctx)
	}
	var res batchResult
	var out any = &res
	if op == crm.OpDelete {
		out = nil
	}
	if _, err := d.call(ctx, "write", object, http.MethodPost, d.objectsPath(object, "batch", batchOp[op]), nil, &body, out); err != nil {
		return err
	}
	if op == crm.OpDelete {
		for _, i := range run {
			results[i] = crm.WriteResult{ID: writes[i].ID}
		}
		return nil
	}

	// Match results and errors to writes: by objectWriteTraceId, else by id
	// (update) or key (upsert).
	byTrace := map[string]int{}
	byKey := map[string]int{}
	for _, i := range run {
		byTrace[inputs[i].ObjectWriteTraceID] = i
		switch op {
		case crm.OpUpdate:
			byKey[writes[i].ID] = i
		case crm.OpUpsert:
			byKey[strings.ToLower(writes[i].ExternalValue)] = i
		}
	}
	done := map[int]bool{}
	for k := range res.Results {
		w := &res.Results[k]
		i, ok := byTrace[w.ObjectWriteTraceID]
		if !ok {
			switch op {
			case crm.OpUpdate:
				i, ok = byKey[w.ID]
			case crm.OpUpsert:
				v, _ := w.Properties[inputs[run[0]].IDProperty].(string)
				i, ok = byKey[strings.ToLower(v)]
			case crm.OpCreate:
				if len(run) == 1 && len(res.Results) == 1 {
					i, ok = run[0], true
				}
			}
		}
		if !ok || done[i] {
			continue
		}
		done[i] = true
		created := op == crm.OpCreate || (op == crm.OpUpsert && w.New != nil && *w.New)
		results[i] = crm.WriteResult{ID: w.ID, Created: created, Version: w.UpdatedAt}
	}
	for k := range res.Errors {
		e := &res.Errors[k]
		ce := toError(0, e)
		ctxIDs := e.context()
		var hit []int
		for _, t := range ctxIDs.TraceIDs {
			if i, ok := byTrace[t]; ok {
				hit = append(hit, i)
			}
		}
		for _, id := range append(ctxIDs.IDs, ctxIDs.ID...) {
			if i, ok := byKey[strings.ToLower(id)]; ok && op == crm.OpUpsert {
				hit = append(hit, i)
			} else if i, ok := byKey[id]; ok {
				hit = append(hit, i)
			}
		}
		for _, i := range hit {
			if done[i] {
				continue
			}
			done[i] = true
			c := *ce
			c.Operation, c.Object, c.RecordID = writes[i].Op.String(), object, writes[i].ID
			if c.Kind == crm.KindUnknown {
				c.Kind = crm.KindValidation
			}
			results[i] = crm.WriteResult{ID: writes[i].ID, Err: &c}
		}
	}
	for _, i := range run {
		if !done[i] {
			results[i] = crm.WriteResult{ID: writes[i].ID, Err: &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: writes[i].Op.String(), Object: object, RecordID: writes[i].ID,
				Message: "HubSpot's batch response has neither a result nor an error for this input; re-read the record before writing it again"}}
		}
	}
	return nil
}

// withRecord returns err naming the record, on a copy.
func withRecord(err error, id string) error {
	var ce *crm.Error
	if id == "" || !errors.As(err, &ce) {
		return err
	}
	c := *ce
	c.RecordID = id
	return &c
}
