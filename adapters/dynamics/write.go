package dynamics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
	"github.com/crmkit/crmkit/internal/httpx"
)

// operation is one write, ready to go into a $batch.
type operation struct {
	index  int // the write's place in the request
	write  crm.Write
	method string
	path   string // relative to the API base
	header http.Header
	body   []byte
	newID  string // the GUID a create gives its record
}

// Write applies up to MaxBatchSize writes to one table in one $batch
// request with Prefer: odata.continue-on-error, so that a bad record never
// stops the others, and returns one result per write:
//
//   - OpCreate is a POST with a primary key the driver chooses, so that a
//     create sent again after a lost response cannot make a second record;
//   - OpUpdate is a PATCH with If-Match: * (an update never creates), or
//     with the record's ETag when Write.IfVersion is set: a stale version
//     fails with KindConflict;
//   - OpUpsert is a PATCH to the alternate key (accounts(accountnumber='A-1'));
//     Write.ExternalField must be the one column of an alternate key;
//   - OpDelete is a DELETE, with If-Match when IfVersion is set.
//
// Every request asks for the record back (Prefer: return=representation,
// $select of the primary key only), so that each result has the record's
// id, its new ETag as Version, and for an upsert whether it created.
// Values are checked against the table's definition first: a write to an
// unknown type or a read-only column fails alone, without being sent.
func (d *Driver) Write(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	return d.write(ctx, req, false)
}

// WriteAtomic applies the writes as one change set: all of them or none.
// When one fails, Dataverse rolls back the others; the failing write's
// result carries its error and every other write's result an error of the
// same kind saying it was rolled back. Use it for writes that only make
// sense together, such as an order and its lines.
func (d *Driver) WriteAtomic(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	return d.write(ctx, req, true)
}

func (d *Driver) write(ctx context.Context, req crm.WriteRequest, atomic bool) ([]crm.WriteResult, error) {
	if err := begin(ctx, "write", req.Object); err != nil {
		return nil, err
	}
	if len(req.Writes) > d.maxBatch {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "write", Object: req.Object,
			Message: fmt.Sprintf("the batch has %d writes, more than the %d one $batch takes: split it, or use crm.Client.Write, which splits for you", len(req.Writes), d.maxBatch)}
	}
	results := make([]crm.WriteResult, len(req.Writes))
	if len(req.Writes) == 0 {
		return results, nil
	}
	t, err := d.table(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	var ops []*operation
	for i, w := range req.Writes {
		op, ce := d.prepare(ctx, t, w)
		if ce != nil {
			if ce.Kind == crm.KindUnknown && ctx.Err() != nil {
				return nil, fmt.Errorf("%s: write %s: %w", Name, t.logical, ctx.Err())
			}
			results[i] = crm.WriteResult{ID: w.ID, Err: ce}
			continue
		}
		op.index = i
		ops = append(ops, op)
	}
	if atomic && len(ops) < len(req.Writes) {
		first := -1
		for i := range results {
			if results[i].Err != nil && first < 0 {
				first = i
			}
		}
		for _, op := range ops {
			results[op.index] = crm.WriteResult{ID: op.write.ID, Err: rolledBack(t, op, first, results[first].Err, "not sent")}
		}
		return results, nil
	}
	if len(ops) == 0 {
		return results, nil
	}
	resps, err := d.sendBatch(ctx, t, ops, atomic)
	if err != nil {
		return nil, err
	}
	if atomic {
		return d.atomicResults(ctx, t, ops, resps, results), nil
	}
	if len(resps) != len(ops) {
		return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "write", Object: t.logical,
			Message: fmt.Sprintf("the $batch response has %d parts for %d operations: the outcome of the writes is unknown; re-read the records before sending again", len(resps), len(ops))}
	}
	for i, op := range ops {
		results[op.index] = d.result(ctx, t, op, resps[i])
	}
	return results, nil
}

// rolledBack is the error of a write that was not applied because another
// write of its change set failed.
func rolledBack(t *table, op *operation, failed int, cause error, what string) *crm.Error {
	return &crm.Error{Kind: crm.KindOf(cause), CRM: Name, Operation: op.write.Op.String(), Object: t.logical, RecordID: op.write.ID,
		Message: fmt.Sprintf("%s: write %d of the same change set failed, so none of its writes was applied", what, failed), Err: cause}
}

// prepare checks one write against the table's definition and builds its
// request. A problem is the write's own *crm.Error.
func (d *Driver) prepare(ctx context.Context, t *table, w crm.Write) (*operation, *crm.Error) {
	bad := func(kind crm.Kind, fields []string, format string, args ...any) *crm.Error {
		return &crm.Error{Kind: kind, CRM: Name, Operation: w.Op.String(), Object: t.logical, RecordID: w.ID, Fields: fields, Message: fmt.Sprintf(format, args...)}
	}
	op := &operation{write: w, header: http.Header{}}
	if w.IfVersion != "" && !validETag(w.IfVersion) {
		return nil, bad(crm.KindInvalidRequest, nil, "Write.IfVersion %q is not a version this driver returned: give the record's ETag as Record.Version or WriteResult.Version has it (W/\"...\"), or \"*\", or leave it empty", clip(w.IfVersion))
	}
	sel := "?$select=" + t.pk
	ifVersion := func() {
		if w.IfVersion != "" {
			op.header.Set("If-Match", w.IfVersion)
		}
	}
	switch w.Op {
	case crm.OpCreate:
		if w.ID != "" {
			return nil, bad(crm.KindInvalidRequest, nil, "a create cannot carry an ID (Dataverse assigns it): use OpUpdate or OpUpsert")
		}
		op.method, op.path, op.newID = http.MethodPost, t.set+sel, d.newID()
	case crm.OpUpdate, crm.OpDelete:
		if !isGUID(w.ID) {
			return nil, bad(crm.KindInvalidRequest, nil, "Write.ID %q is not a GUID: Dataverse record ids are GUIDs", clip(w.ID))
		}
		op.method, op.path = http.MethodPatch, t.set+"("+strings.ToLower(w.ID)+")"+sel
		if w.Op == crm.OpDelete {
			op.method, op.path = http.MethodDelete, t.set+"("+strings.ToLower(w.ID)+")"
		}
		if w.IfVersion != "" {
			ifVersion()
		} else if w.Op == crm.OpUpdate {
			op.header.Set("If-Match", "*") // an update must never create
		}
	case crm.OpUpsert:
		c := t.col(w.ExternalField)
		if c == nil || !c.field.ExternalID {
			keys := t.schema.ExternalIDFields()
			return nil, bad(crm.KindValidation, []string{w.ExternalField},
				"%s is not the column of an alternate key of %s, so it cannot key an upsert: use one of [%s], or define an alternate key on it", w.ExternalField, t.logical, strings.Join(keys, ", "))
		}
		lit, err := c.literal(w.ExternalValue)
		if err != nil {
			return nil, bad(crm.KindValidation, []string{c.name}, "the upsert key %s: %v", c.name, err)
		}
		op.method, op.path = http.MethodPatch, t.set+"("+c.name+"="+escapePath(lit)+")"+sel
		ifVersion()
	default:
		return nil, bad(crm.KindInvalidRequest, nil, "Write.Op is %d: use OpCreate, OpUpdate, OpUpsert or OpDelete", w.Op)
	}
	if w.Op == crm.OpDelete {
		return op, nil
	}
	body := map[string]any{}
	if op.newID != "" {
		body[t.pk] = op.newID
	}
	var problems []string
	var fields []string
	for _, name := range w.Fields.Names() {
		v := w.Fields[name]
		c := t.col(name)
		if c == nil {
			body[name] = v // unknown here: the service names it in its error
			continue
		}
		create := w.Op == crm.OpCreate
		switch {
		case c.pk:
			problems, fields = append(problems, fmt.Sprintf("%s is the record id: give it as Write.ID, not in the fields", c.name)), append(fields, c.name)
			continue
		case w.Op == crm.OpUpsert && strings.EqualFold(c.name, w.ExternalField):
			if lit, err := c.literal(v); err != nil || lit != mustLiteral(c, w.ExternalValue) {
				problems, fields = append(problems, fmt.Sprintf("the fields set %s to a value other than the upsert key: leave the key out of the fields", c.name)), append(fields, c.name)
			}
			continue // the key in the URL wins
		case create && !c.validCreate:
			problems, fields = append(problems, fmt.Sprintf("%s is read-only on create: leave it out, Dataverse sets it", c.name)), append(fields, c.name)
			continue
		case w.Op == crm.OpUpdate && !c.validUpdate:
			problems, fields = append(problems, fmt.Sprintf("%s is read-only on update: leave it out of the update", c.name)), append(fields, c.name)
			continue
		case w.Op == crm.OpUpsert && !c.validUpdate && !c.validCreate:
			problems, fields = append(problems, fmt.Sprintf("%s is read-only: leave it out", c.name)), append(fields, c.name)
			continue
		}
		key, val, err := d.encode(c, v, func(target string) (string, error) {
			tt, err := d.table(ctx, target)
			if err != nil {
				return "", err
			}
			return tt.set, nil
		})
		if err != nil {
			if ce, ok := err.(*crm.Error); ok {
				ce2 := *ce
				return nil, &ce2
			}
			problems, fields = append(problems, fmt.Sprintf("%s: %v", c.name, err)), append(fields, c.name)
			continue
		}
		body[key] = val
	}
	if len(problems) > 0 {
		return nil, bad(crm.KindValidation, fields, "%s", strings.Join(problems, "; "))
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, bad(crm.KindValidation, nil, "the fields cannot be written as JSON: %v", err)
	}
	op.body = b
	op.header.Set("Content-Type", "application/json; charset=utf-8")
	op.header.Set("Prefer", "return=representation")
	return op, nil
}

// validETag reports whether v can go into an If-Match header as it is: "*",
// or an entity tag, strong ("...") or weak (W/"..."), with no quote or
// control character inside. Anything else could end the header line inside
// a $batch part and add headers of its own.
func validETag(v string) bool {
	if v == "*" {
		return true
	}
	v = strings.TrimPrefix(v, "W/")
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for i := 1; i < len(v)-1; i++ {
		if c := v[i]; c < 0x21 || c == '"' || c == 0x7F {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v can be written as a header value in a
// $batch part without ending its line: no control characters.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7F {
			return false
		}
	}
	return true
}

func mustLiteral(c *column, v string) string {
	s, _ := c.literal(v)
	return s
}

// escapePath percent-encodes a key literal for a URL path segment: a slash,
// a question mark, a hash or a percent sign in a key value must not end the
// segment.
func escapePath(lit string) string {
	var b strings.Builder
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~'!*:@,=", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// partResponse is one operation's answer inside a $batch response.
type partResponse struct {
	contentID string
	status    int
	header    http.Header
	body      []byte
}

// sendBatch sends the operations in one $batch, each in its own part (or all
// in one change set when atomic), and returns the responses in order.
func (d *Driver) sendBatch(ctx context.Context, t *table, ops []*operation, atomic bool) ([]partResponse, error) {
	boundary := "batch_" + newGUID()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.SetBoundary(boundary)
	writeOp := func(w *multipart.Writer, op *operation, contentID int) error {
		// Every line of a part is checked: a control character in a value
		// would end its line and let the value add lines of its own.
		target := d.base + op.path
		if strings.ContainsAny(target, " ") || !validHeaderValue(target) {
			return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op.write.Op.String(), Object: t.logical, RecordID: op.write.ID,
				Message: "the request's URL holds a space or a control character: report this as a crmkit bug"}
		}
		for k, vs := range op.header {
			for _, v := range vs {
				if !validHeaderValue(k) || !validHeaderValue(v) {
					return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: op.write.Op.String(), Object: t.logical, RecordID: op.write.ID,
						Message: fmt.Sprintf("the %s header holds a control character: remove it from the value the write carries", clip(k))}
				}
			}
		}
		h := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
		h["Content-ID"] = []string{strconv.Itoa(contentID)}
		pw, _ := w.CreatePart(h)
		var b bytes.Buffer
		b.WriteString(op.method + " " + target + " HTTP/1.1\r\n")
		for k, vs := range op.header {
			for _, v := range vs {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
		b.WriteString("\r\n")
		b.Write(op.body)
		_, _ = pw.Write(b.Bytes())
		return nil
	}
	if atomic {
		cs := "changeset_" + newGUID()
		var inner bytes.Buffer
		cw := multipart.NewWriter(&inner)
		_ = cw.SetBoundary(cs)
		for i, op := range ops {
			if err := writeOp(cw, op, i+1); err != nil {
				return nil, err
			}
		}
		_ = cw.Close()
		pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cs}})
		_, _ = pw.Write(inner.Bytes())
	} else {
		for i, op := range ops {
			if err := writeOp(mw, op, i+1); err != nil {
				return nil, err
			}
		}
	}
	_ = mw.Close()

	ctx = httpx.WithOperation(ctx, "write", t.logical)
	if retriable(ops) {
		ctx = retry.MarkIdempotent(ctx)
	}
	req, err := d.newRequest(ctx, http.MethodPost, d.base+"$batch", buf.Bytes())
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	if !atomic {
		req.Header.Set("Prefer", "odata.continue-on-error")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		var bp *batchParts
		if errors.As(err, &bp) {
			return bp.parts, nil
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: write %s: %w", Name, t.logical, ctx.Err())
		}
		return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "write", Object: t.logical, RequestID: d.hc.RequestID(resp.Header),
			Message: "reading the $batch response failed: the outcome of the writes is unknown; re-read the records before sending again", Err: httpx.RedactError(err)}
	}
	parts, err := parseBatchResponse(resp.Header.Get("Content-Type"), body)
	if err != nil {
		return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "write", Object: t.logical, StatusCode: resp.StatusCode, RequestID: d.hc.RequestID(resp.Header),
			Message: "the $batch response could not be read: the outcome of the writes is unknown; re-read the records before sending again", Err: err}
	}
	reqID := d.hc.RequestID(resp.Header)
	for i := range parts {
		if parts[i].header.Get("REQ_ID") == "" && reqID != "" {
			parts[i].header.Set("REQ_ID", reqID)
		}
	}
	return parts, nil
}

// retriable reports whether a $batch of ops may be sent again after a lost
// response. Creates carry the ids the driver chose (a second attempt fails
// with DuplicateRecord, which result and atomicResults recognise), updates
// name their record and upserts their key, so none makes a duplicate. But a
// delete sent again finds its record gone, and a write with a version finds
// the version it changed: either would report a write that was applied as
// failed, so a batch holding one is sent once.
func retriable(ops []*operation) bool {
	for _, op := range ops {
		if op.write.Op == crm.OpDelete || op.write.IfVersion != "" && op.write.IfVersion != "*" {
			return false
		}
	}
	return true
}

// parseBatchResponse reads a multipart/mixed $batch response, flattening
// change sets, into its operation responses in order.
func parseBatchResponse(contentType string, body []byte) ([]partResponse, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.EqualFold(mt, "multipart/mixed") || params["boundary"] == "" {
		return nil, fmt.Errorf("the response's Content-Type %q is not multipart/mixed with a boundary", clip(contentType))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var out []partResponse
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading a response part: %w", err)
		}
		content, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("reading a response part: %w", err)
		}
		if ct := p.Header.Get("Content-Type"); strings.HasPrefix(strings.ToLower(ct), "multipart/") {
			inner, err := parseBatchResponse(ct, content)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
			continue
		}
		// Leading blank lines are allowed before the status line.
		content = bytes.TrimLeft(content, "\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(content)), nil)
		if err != nil {
			return nil, fmt.Errorf("a response part is not an HTTP response: %w", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading a response part's body: %w", err)
		}
		id := p.Header.Get("Content-ID")
		if id == "" {
			id = resp.Header.Get("Content-ID")
		}
		out = append(out, partResponse{contentID: id, status: resp.StatusCode, header: resp.Header, body: bytes.TrimRight(b, "\r\n")})
	}
}

// result turns one operation's response into its WriteResult.
func (d *Driver) result(ctx context.Context, t *table, op *operation, pr partResponse) crm.WriteResult {
	w := op.write
	if pr.status >= 400 {
		ce := errorFrom(pr.status, pr.header, pr.body)
		ce.Operation, ce.Object, ce.RecordID = w.Op.String(), t.logical, w.ID
		if w.Op == crm.OpCreate && strings.EqualFold(ce.Code, CodeDuplicateRecord) {
			// The id is the driver's own: if the record exists, an earlier
			// attempt of this batch made it and only its answer was lost.
			if r, err := d.Get(ctx, crm.GetRequest{Object: t.logical, ID: op.newID, Fields: []string{t.pk}}); err == nil {
				return crm.WriteResult{ID: op.newID, Created: true, Version: r.Version}
			}
		}
		return crm.WriteResult{ID: w.ID, Err: ce}
	}
	res := crm.WriteResult{ID: w.ID, Created: w.Op == crm.OpCreate || w.Op == crm.OpUpsert && pr.status == http.StatusCreated}
	if w.Op == crm.OpCreate {
		res.ID = op.newID
	}
	res.Version = pr.header.Get("ETag")
	if len(pr.body) > 0 {
		var row map[string]any
		dec := json.NewDecoder(bytes.NewReader(pr.body))
		dec.UseNumber()
		if dec.Decode(&row) == nil {
			if id, ok := row[t.pk].(string); ok && id != "" {
				res.ID = strings.ToLower(id)
			}
			if v, ok := row["@odata.etag"].(string); ok {
				res.Version = v
			}
		}
	}
	if res.ID == "" {
		res.ID = idFromEntityID(pr.header.Get("OData-EntityId"))
	}
	return res
}

// idFromEntityID takes the GUID out of an OData-EntityId such as
// .../accounts(00000000-0000-0000-0000-000000000001).
func idFromEntityID(s string) string {
	open := strings.LastIndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return ""
	}
	if id := s[open+1 : len(s)-1]; isGUID(id) {
		return strings.ToLower(id)
	}
	return ""
}

// atomicResults spreads a change set's outcome over the results.
func (d *Driver) atomicResults(ctx context.Context, t *table, ops []*operation, resps []partResponse, results []crm.WriteResult) []crm.WriteResult {
	if len(resps) == len(ops) && allOK(resps) {
		for i, op := range ops {
			results[op.index] = d.result(ctx, t, op, resps[i])
		}
		return results
	}
	// One error answers the whole change set; its Content-ID names the
	// operation that failed.
	var failed *partResponse
	for i := range resps {
		if resps[i].status >= 400 {
			failed = &resps[i]
			break
		}
	}
	if failed == nil {
		ce := &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "write", Object: t.logical,
			Message: fmt.Sprintf("the change set's response has %d parts for %d operations and no error: the outcome is unknown; re-read the records", len(resps), len(ops))}
		for _, op := range ops {
			results[op.index] = crm.WriteResult{ID: op.write.ID, Err: ce}
		}
		return results
	}
	culprit := -1
	if n, err := strconv.Atoi(failed.contentID); err == nil && n >= 1 && n <= len(ops) {
		culprit = n - 1
	}
	cause := errorFrom(failed.status, failed.header, failed.body)
	cause.Object = t.logical
	if culprit >= 0 && ops[culprit].write.Op == crm.OpCreate && strings.EqualFold(cause.Code, CodeDuplicateRecord) {
		// The id is the driver's own: if the record exists, an earlier
		// attempt of this change set was applied, whole, and only its
		// answer was lost.
		if r, err := d.Get(ctx, crm.GetRequest{Object: t.logical, ID: ops[culprit].newID, Fields: []string{t.pk}}); err == nil {
			return d.committedResults(ctx, t, ops, culprit, r.Version, results)
		}
	}
	for i, op := range ops {
		if i == culprit {
			c := *cause
			c.Operation, c.RecordID = op.write.Op.String(), op.write.ID
			results[op.index] = crm.WriteResult{ID: op.write.ID, Err: &c}
			continue
		}
		failedAt := -1
		if culprit >= 0 {
			failedAt = ops[culprit].index
		}
		results[op.index] = crm.WriteResult{ID: op.write.ID, Err: rolledBack(t, op, failedAt, cause, "rolled back")}
	}
	return results
}

func allOK(rs []partResponse) bool {
	for _, r := range rs {
		if r.status >= 400 {
			return false
		}
	}
	return true
}

// committedResults are the results of a change set found applied by an
// earlier attempt: each record's id, and its version read back (a record
// that cannot be read back keeps an empty Version).
func (d *Driver) committedResults(ctx context.Context, t *table, ops []*operation, culprit int, version string, results []crm.WriteResult) []crm.WriteResult {
	for i, op := range ops {
		w := op.write
		res := crm.WriteResult{ID: w.ID}
		switch {
		case i == culprit:
			res = crm.WriteResult{ID: op.newID, Created: true, Version: version}
			results[op.index] = res
			continue
		case w.Op == crm.OpCreate:
			res.ID, res.Created = op.newID, true
		case w.Op == crm.OpUpsert:
			// Whether the first attempt created the record is lost with
			// its answer; the key finds the record.
			page, err := d.Query(ctx, crm.QueryRequest{Query: crm.Query{Object: t.logical, Fields: []string{t.pk}, Where: crm.Eq(w.ExternalField, w.ExternalValue), Limit: 1}})
			if err == nil && len(page.Records) == 1 {
				res.ID, res.Version = page.Records[0].ID, page.Records[0].Version
			}
			results[op.index] = res
			continue
		}
		if w.Op != crm.OpDelete {
			if r, err := d.Get(ctx, crm.GetRequest{Object: t.logical, ID: res.ID, Fields: []string{t.pk}}); err == nil {
				res.Version = r.Version
			}
		}
		results[op.index] = res
	}
	return results
}
