package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/retry"
)

// Bulk API 2.0: ingest jobs for large write sets, query jobs for large
// reads. The crm.Client sends writes here, instead of to sObject
// Collections, when there are more than the driver's BulkThreshold.

// bulkJobInfo is the part of a job's state the driver reads.
type bulkJobInfo struct {
	ID                     string `json:"id"`
	State                  string `json:"state"`
	ErrorMessage           string `json:"errorMessage"`
	NumberRecordsProcessed int    `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int    `json:"numberRecordsFailed"`
}

var bulkOps = map[crm.Op]string{crm.OpCreate: "insert", crm.OpUpdate: "update", crm.OpUpsert: "upsert", crm.OpDelete: "delete"}

// BulkWrite applies any number of writes of one object through Bulk API
// 2.0 ingest jobs: one job per run of one operation (and, for upserts, one
// external-id field), more when a run's CSV would pass 100 MB (Salesforce
// takes 150 MB per upload), each uploaded as one CSV, polled until done
// (or aborted and deleted when it fails before that), and its
// successful, failed and unprocessed results mapped back to the writes, one
// result per write, in order. Writes are checked against the describe
// first, as in Write. A field set to nil is sent as #N/A, which Bulk API
// reads as null; a field a write leaves out is an empty cell, which leaves
// the field unchanged.
func (d *Driver) BulkWrite(ctx context.Context, req crm.WriteRequest) ([]crm.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: bulk write %s: %w", Name, req.Object, err)
	}
	s, err := d.describe(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	results, bodies, pending := d.prepareAll(s, req.Writes)
	for _, run := range runsOf(req.Writes, pending) {
		if err := d.ingest(ctx, s, req.Writes, bodies, run, results); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			for _, i := range run {
				results[i] = crm.WriteResult{ID: req.Writes[i].ID, Err: err}
			}
		}
	}
	return results, nil
}

// cell writes a body value as a Bulk API CSV cell.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "#N/A"
	case string:
		if x == "" {
			return "#N/A" // Salesforce stores empty text as null
		}
		return x
	case json.RawMessage:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}

// bulkUploadLimit is the most CSV bytes the driver puts in one ingest job:
// Salesforce takes up to 150 MB per upload, counting its own base64
// encoding, and advises about 100 MB of data.
const bulkUploadLimit = 100 << 20

// ingest runs a run of writes through as many ingest jobs as keep each
// upload under the driver's upload limit, and puts each job's results in
// results. It returns an error only when ctx ends; a job that fails fails
// its own writes.
func (d *Driver) ingest(ctx context.Context, s *sfSchema, writes []crm.Write, bodies []map[string]any, run []int, results []crm.WriteResult) error {
	op := writes[run[0]].Op
	var header []string
	if op == crm.OpDelete {
		header = []string{"Id"}
	} else {
		seen := map[string]bool{}
		for _, i := range run {
			for k := range bodies[i] {
				if k != "attributes" && !seen[k] {
					seen[k] = true
					header = append(header, k)
				}
			}
		}
		slices.Sort(header)
	}
	var head bytes.Buffer
	hw := csv.NewWriter(&head)
	_ = hw.Write(header)
	hw.Flush()

	var buf bytes.Buffer
	var chunk []int
	keys := map[string][]int{} // a row's cells, joined, to the writes that made it
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := d.ingestJob(ctx, s, writes, buf.Bytes(), chunk, keys, results)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			for _, i := range chunk {
				results[i] = crm.WriteResult{ID: writes[i].ID, Err: err}
			}
		}
		buf.Reset()
		chunk, keys = nil, map[string][]int{}
		return nil
	}
	var line bytes.Buffer
	for _, i := range run {
		row := make([]string, len(header))
		for c, h := range header {
			switch {
			case op == crm.OpDelete:
				row[c] = writes[i].ID
			default:
				if v, ok := bodies[i][h]; ok {
					row[c] = cell(v)
				}
			}
		}
		line.Reset()
		lw := csv.NewWriter(&line)
		_ = lw.Write(row)
		lw.Flush()
		if len(chunk) > 0 && buf.Len()+line.Len() > d.maxUpload {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(chunk) == 0 {
			buf.Write(head.Bytes())
		}
		buf.Write(line.Bytes())
		chunk = append(chunk, i)
		k := rowKey(row)
		keys[k] = append(keys[k], i)
	}
	return flush()
}

// ingestJob runs one ingest job: it uploads data (a CSV of the writes in
// chunk, whose rows keys maps back to them), waits for the job and maps its
// results back to the writes.
func (d *Driver) ingestJob(ctx context.Context, s *sfSchema, writes []crm.Write, data []byte, chunk []int, keys map[string][]int, results []crm.WriteResult) error {
	w0 := writes[chunk[0]]
	op := w0.Op
	create := map[string]string{"object": s.schema.Object, "operation": bulkOps[op], "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"}
	if op == crm.OpUpsert {
		f, _ := s.field(w0.ExternalField)
		create["externalIdFieldName"] = f.Name
	}
	var job bulkJobInfo
	if _, err := d.call(ctx, request{op: "bulk_write", object: s.schema.Object, method: http.MethodPost, path: "/jobs/ingest", body: create}, &job); err != nil {
		return err
	}
	jobPath := "/jobs/ingest/" + url.PathEscape(job.ID)
	uploaded := false
	defer func() {
		if !uploaded {
			// A job still Open holds the org's attention until it times
			// out, and cannot be deleted: abort it first.
			d.abortJob(ctx, s.schema.Object, jobPath)
		}
		d.deleteJob(ctx, s.schema.Object, jobPath)
	}()
	if _, err := d.call(ctx, request{op: "bulk_write", object: s.schema.Object, method: http.MethodPut, path: jobPath + "/batches",
		body: data, contentType: "text/csv"}, nil); err != nil {
		return err
	}
	if _, err := d.call(ctx, request{op: "bulk_write", object: s.schema.Object, method: http.MethodPatch, path: jobPath,
		body: map[string]string{"state": "UploadComplete"}}, &job); err != nil {
		return err
	}
	uploaded = true
	if err := d.waitJob(ctx, "bulk_write", s.schema.Object, jobPath, &job); err != nil {
		return err
	}
	if job.State != "JobComplete" {
		return jobFailed(s.schema.Object, &job)
	}
	rid := ""
	take := func(row []string) (int, bool) {
		k := rowKey(row)
		idx := keys[k]
		if len(idx) == 0 {
			return 0, false
		}
		keys[k] = idx[1:]
		return idx[0], true
	}
	for _, which := range []string{"successfulResults", "failedResults", "unprocessedrecords"} {
		var raw []byte
		resp, err := d.call(ctx, request{op: "bulk_write", object: s.schema.Object, method: http.MethodGet, path: jobPath + "/" + which}, &raw)
		if err != nil {
			return err
		}
		rid = d.hc.RequestID(resp.Header)
		rows, err := readCSV(raw)
		if err != nil {
			return d.badAnswer("bulk_write", s.schema.Object, err)
		}
		if len(rows) == 0 {
			continue
		}
		extra := 2
		if which == "unprocessedrecords" {
			extra = 0
		}
		for _, row := range rows[1:] {
			if len(row) < extra {
				continue
			}
			i, ok := take(row[extra:])
			if !ok {
				continue
			}
			switch which {
			case "successfulResults":
				res := crm.WriteResult{ID: row[0], Created: row[1] == "true"}
				if res.ID == "" {
					res.ID = writes[i].ID
				}
				results[i] = res
			case "failedResults":
				ce := recordError([]apiError{parseBulkError(row[1])})
				ce.CRM, ce.Operation, ce.Object, ce.RequestID, ce.RecordID = Name, op.String(), s.schema.Object, rid, writes[i].ID
				results[i] = crm.WriteResult{ID: writes[i].ID, Err: ce}
			default:
				results[i] = crm.WriteResult{ID: writes[i].ID, Err: &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: op.String(),
					Object: s.schema.Object, RecordID: writes[i].ID, Message: "the bulk job ended before processing this record: send it again"}}
			}
		}
	}
	for _, idx := range keys {
		for _, i := range idx {
			results[i] = crm.WriteResult{ID: writes[i].ID, Err: &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: op.String(), Object: s.schema.Object,
				RecordID: writes[i].ID, Message: "the bulk job's results do not mention this record: re-read it before sending it again"}}
		}
	}
	return nil
}

// rowKey identifies a CSV row by its cells, as a CSV reader gives them back
// (a quoted CRLF reads as LF).
func rowKey(row []string) string {
	return strings.ReplaceAll(strings.Join(row, "\x00"), "\r\n", "\n")
}

// bulkErrorRE splits "STATUS_CODE:message:field1,field2 --".
var bulkErrorRE = regexp.MustCompile(`(?s)^([A-Z_]+):(.*?)(?::([A-Za-z0-9_,.]*))? --$`)

func parseBulkError(s string) apiError {
	if m := bulkErrorRE.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		e := apiError{StatusCode: m[1], Message: m[2]}
		if m[3] != "" {
			e.Fields = strings.Split(m[3], ",")
		}
		return e
	}
	return apiError{StatusCode: "UNKNOWN_EXCEPTION", Message: s}
}

func readCSV(raw []byte) ([][]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

func jobFailed(object string, job *bulkJobInfo) error {
	if job.State == "Aborted" {
		return &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: "bulk", Object: object,
			Message: "the bulk job " + job.ID + " was aborted before it finished: send its records again"}
	}
	return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "bulk", Object: object, Code: "Failed",
		Message: "the bulk job " + job.ID + " failed: " + job.ErrorMessage}
}

// waitJob polls a job until it reaches a final state, waiting longer each
// time, up to MaxBulkPollInterval, and stopping when ctx ends.
func (d *Driver) waitJob(ctx context.Context, op, object, path string, job *bulkJobInfo) error {
	wait := d.bulkPoll
	for {
		switch job.State {
		case "JobComplete", "Failed", "Aborted":
			return nil
		}
		if err := retry.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %s %s: waiting for bulk job %s: %w", Name, op, object, job.ID, err)
		}
		wait = min(2*wait, MaxBulkPollInterval)
		if _, err := d.call(ctx, request{op: op, object: object, method: http.MethodGet, path: path}, job); err != nil {
			return err
		}
	}
}

// abortJob sets a job that never reached UploadComplete to Aborted, so
// that Salesforce stops waiting for its data and lets it be deleted; a
// failure is logged at debug level, not returned, since the write has
// already failed for a reason of its own.
func (d *Driver) abortJob(ctx context.Context, object, path string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := d.call(ctx, request{op: "bulk_abort_job", object: object, method: http.MethodPatch, path: path,
		body: map[string]string{"state": "Aborted"}}, nil); err != nil {
		d.logger.DebugContext(ctx, "salesforce: could not abort a failed bulk job", "object", object, "job", path, "error", err)
	}
}

// deleteJob removes a finished job, so that the org's job list stays
// short; a failure is not the caller's concern, but is logged at debug
// level.
func (d *Driver) deleteJob(ctx context.Context, object, path string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := d.call(ctx, request{op: "bulk_delete_job", object: object, method: http.MethodDelete, path: path}, nil); err != nil {
		d.logger.DebugContext(ctx, "salesforce: could not delete a bulk job", "object", object, "job", path, "error", err)
	}
}

// bulkCursorRE is the shape of a bulk query cursor: "bulk:<job id>:<locator>".
var bulkCursorRE = regexp.MustCompile(`^bulk:([A-Za-z0-9]{15,18}):([A-Za-z0-9_-]+)$`)

// BulkQuery runs a query as a Bulk API 2.0 query job, for reads too large
// for paging through REST: the first call (empty cursor) starts the job and
// waits for it; every call returns one page of its CSV results (PageSize
// records; all of them when 0) and a cursor to the next. IncludeDeleted
// uses queryAll. Total is the job's record count on the first page, -1
// after.
func (d *Driver) BulkQuery(ctx context.Context, req crm.QueryRequest) (*crm.Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: bulk query %s: %w", Name, req.Query.Object, err)
	}
	q := req.Query
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if q.Object == "" {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "bulk_query",
			Message: "a native bulk query needs Query.Object, to read its CSV by the object's describe: name the object the query reads"}
	}
	s, err := d.describe(ctx, q.Object)
	if err != nil {
		return nil, err
	}
	object := q.Object
	var jobID, locator string
	total := -1
	if req.Cursor != "" {
		m := bulkCursorRE.FindStringSubmatch(req.Cursor)
		if m == nil {
			return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "bulk_query", Object: object,
				Message: "the cursor is not a bulk query cursor from this driver: pass Page.NextCursor as it was returned"}
		}
		jobID, locator = m[1], m[2]
	} else {
		soql := q.Native
		if soql == "" {
			var err error
			if soql, err = (&compiler{s: s, op: "bulk_query"}).buildSOQL(&q); err != nil {
				return nil, err
			}
		}
		operation := "query"
		if q.IncludeDeleted {
			operation = "queryAll"
		}
		var job bulkJobInfo
		if _, err := d.call(ctx, request{op: "bulk_query", object: object, method: http.MethodPost, path: "/jobs/query",
			body: map[string]string{"operation": operation, "query": soql, "contentType": "CSV", "lineEnding": "LF", "columnDelimiter": "COMMA"}}, &job); err != nil {
			return nil, err
		}
		path := "/jobs/query/" + url.PathEscape(job.ID)
		if err := d.waitJob(ctx, "bulk_query", object, path, &job); err != nil {
			return nil, err
		}
		if job.State != "JobComplete" {
			d.deleteJob(ctx, object, path)
			return nil, jobFailed(object, &job)
		}
		jobID, total = job.ID, job.NumberRecordsProcessed
	}
	query := url.Values{}
	if locator != "" {
		query.Set("locator", locator)
	}
	if req.PageSize > 0 {
		query.Set("maxRecords", strconv.Itoa(req.PageSize))
	}
	var raw []byte
	resp, err := d.call(ctx, request{op: "bulk_query", object: object, method: http.MethodGet,
		path: "/jobs/query/" + url.PathEscape(jobID) + "/results", query: query, header: http.Header{"Accept": {"text/csv"}}}, &raw)
	if err != nil {
		return nil, err
	}
	rows, err := readCSV(raw)
	if err != nil {
		return nil, d.badAnswer("bulk_query", object, err)
	}
	page := &crm.Page{Total: total}
	if len(rows) > 0 {
		header := rows[0]
		for _, row := range rows[1:] {
			rec, err := recordFromCSV(s, header, row)
			if err != nil {
				return nil, d.badAnswer("bulk_query", object, err)
			}
			page.Records = append(page.Records, rec)
		}
	}
	next := resp.Header.Get("Sforce-Locator")
	if next == "" || next == "null" {
		// The last page: the job has nothing more to give.
		d.deleteJob(ctx, object, "/jobs/query/"+url.PathEscape(jobID))
		return page, nil
	}
	cursor := "bulk:" + jobID + ":" + next
	if !bulkCursorRE.MatchString(cursor) {
		return nil, &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "bulk_query", Object: object,
			Message: fmt.Sprintf("Salesforce sent the Sforce-Locator %.40q, which is not a locator crmkit can carry in a cursor", next)}
	}
	page.NextCursor = cursor
	return page, nil
}

// recordFromCSV reads one row of a bulk query's results: an empty cell is
// null, the rest is typed by the describe.
func recordFromCSV(s *sfSchema, header, row []string) (*crm.Record, error) {
	r := &crm.Record{Object: s.schema.Object, Fields: make(crm.Fields, len(header))}
	for i, h := range header {
		if i >= len(row) {
			break
		}
		f, ok := s.field(h)
		if !ok {
			r.Fields[h] = row[i]
			continue
		}
		var v any
		if row[i] != "" {
			var err error
			if f.Type.Value() == crm.ValueStrings {
				v = strings.Split(row[i], ";")
			} else if v, err = crm.NormalizeValue(f.Type, row[i]); err != nil {
				return nil, fmt.Errorf("field %s (%s): %w", f.Name, f.sfType, err)
			}
		}
		setField(r, f, v)
	}
	return r, nil
}

// setField stores a decoded value, and the record's id, version and state
// from the fields that hold them.
func setField(r *crm.Record, f *sfField, v any) {
	r.Fields[f.Name] = v
	switch f.Name {
	case "Id":
		r.ID, _ = v.(string)
	case "SystemModstamp":
		if t, ok := v.(time.Time); ok {
			r.ModifiedAt = t
			r.Version = t.Format(time.RFC3339Nano)
		}
	case "IsDeleted":
		r.Deleted, _ = v.(bool)
	}
}
