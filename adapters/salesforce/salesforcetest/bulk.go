package salesforcetest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// Bulk API 2.0: ingest jobs (CSV upload, then results) and query jobs (CSV
// pages with Sforce-Locator). A job moves one state per poll, as a real
// org's do over seconds: an ingest job is UploadComplete after the close,
// InProgress at the next GET (when its records are written), then
// JobComplete; a query job goes UploadComplete, InProgress, JobComplete.

// maxUpload is the most one ingest upload may hold.
const maxUpload = 150 << 20

type bulkJob struct {
	id, kind  string // kind: "ingest" or "query"
	object    string
	operation string
	extField  string
	delimiter rune
	lineEnd   string
	state     string
	errMsg    string
	created   time.Time
	modified  time.Time
	version   string

	// ingest
	csv           []byte
	success       [][]string
	failed        [][]string
	unprocessed   [][]string
	header        []string
	processed     int
	failedRecords int

	// query
	query   *compiled
	soql    string
	records []*memstore.Record
}

var delimiters = map[string]rune{"COMMA": ',', "TAB": '\t', "PIPE": '|', "SEMICOLON": ';', "CARET": '^', "BACKQUOTE": '`'}

func delimiterName(r rune) string {
	for k, v := range delimiters {
		if v == r {
			return k
		}
	}
	return "COMMA"
}

func (j *bulkJob) info() map[string]any {
	m := map[string]any{
		"id": j.id, "operation": j.operation, "object": j.object, "createdById": "", "createdDate": jsonRawString(appendValue(nil, j.created)),
		"systemModstamp": jsonRawString(appendValue(nil, j.modified)), "state": j.state, "concurrencyMode": "Parallel",
		"contentType": "CSV", "apiVersion": json.Number(j.version), "lineEnding": map[bool]string{true: "CRLF", false: "LF"}[j.lineEnd == "\r\n"],
		"columnDelimiter": delimiterName(j.delimiter),
	}
	if j.kind == "ingest" {
		m["contentUrl"] = "services/data/v" + j.version + "/jobs/ingest/" + j.id + "/batches"
		m["numberRecordsProcessed"] = j.processed
		m["numberRecordsFailed"] = j.failedRecords
		m["retries"] = 0
		m["totalProcessingTime"] = 0
		if j.extField != "" {
			m["externalIdFieldName"] = j.extField
		}
	} else {
		m["query"] = j.soql
		m["numberRecordsProcessed"] = len(j.records)
	}
	if j.errMsg != "" {
		m["errorMessage"] = j.errMsg
	}
	return m
}

func (s *Server) serveBulk(w http.ResponseWriter, r *http.Request, c call) *failure {
	kind := c.segs[1] // ingest or query
	if kind != "ingest" && kind != "query" {
		return notFound()
	}
	if len(c.segs) == 2 {
		switch r.Method {
		case http.MethodPost:
			return s.createJob(w, r, c, kind)
		case http.MethodGet:
			s.bulkMu.Lock()
			list := []map[string]any{}
			for _, id := range s.jobOrder {
				if j := s.jobs[id]; j != nil && j.kind == kind {
					list = append(list, j.info())
				}
			}
			s.bulkMu.Unlock()
			s.writeJSON(w, http.StatusOK, map[string]any{"done": true, "records": list, "nextRecordsUrl": nil})
			return nil
		}
		return methodNotAllowed(w, r.Method, "GET", "POST")
	}
	s.bulkMu.Lock()
	j := s.jobs[c.segs[2]]
	s.bulkMu.Unlock()
	if j == nil || j.kind != kind {
		return fail(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
	}
	if len(c.segs) == 3 {
		switch r.Method {
		case http.MethodGet:
			s.bulkMu.Lock()
			s.advance(j)
			info := j.info()
			s.bulkMu.Unlock()
			s.writeJSON(w, http.StatusOK, info)
			return nil
		case http.MethodPatch:
			return s.patchJob(w, r, j)
		case http.MethodDelete:
			s.bulkMu.Lock()
			defer s.bulkMu.Unlock()
			switch j.state {
			case "UploadComplete", "InProgress":
				return fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Deleting a job in state %s is not allowed: abort it first", j.state)
			}
			delete(s.jobs, j.id)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return methodNotAllowed(w, r.Method, "GET", "PATCH", "DELETE")
	}
	switch sub := c.segs[3]; {
	case kind == "ingest" && sub == "batches":
		if r.Method != http.MethodPut {
			return methodNotAllowed(w, r.Method, "PUT")
		}
		return s.upload(w, r, j)
	case kind == "ingest" && (sub == "successfulResults" || sub == "failedResults" || sub == "unprocessedrecords"):
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, r.Method, "GET")
		}
		return s.ingestResults(w, j, sub)
	case kind == "query" && sub == "results":
		if r.Method != http.MethodGet {
			return methodNotAllowed(w, r.Method, "GET")
		}
		return s.queryResults(w, r, j)
	}
	return notFound()
}

func (s *Server) createJob(w http.ResponseWriter, r *http.Request, c call, kind string) *failure {
	body, f := readBody(r)
	if f != nil {
		return f
	}
	var req struct {
		Object              string `json:"object"`
		Operation           string `json:"operation"`
		ExternalIDFieldName string `json:"externalIdFieldName"`
		ContentType         string `json:"contentType"`
		LineEnding          string `json:"lineEnding"`
		ColumnDelimiter     string `json:"columnDelimiter"`
		Query               string `json:"query"`
	}
	if f := decodeJSON(body, &req); f != nil {
		return f
	}
	j := &bulkJob{kind: kind, operation: req.Operation, delimiter: ',', lineEnd: "\n", created: s.now(), version: c.version}
	j.modified = j.created
	if req.ContentType != "" && req.ContentType != "CSV" {
		return fail(http.StatusBadRequest, "INVALIDJOB", "Invalid contentType %s: only CSV is supported", req.ContentType)
	}
	if req.ColumnDelimiter != "" {
		d, ok := delimiters[req.ColumnDelimiter]
		if !ok {
			return fail(http.StatusBadRequest, "INVALIDJOB", "Invalid columnDelimiter %s", req.ColumnDelimiter)
		}
		j.delimiter = d
	}
	switch req.LineEnding {
	case "", "LF":
	case "CRLF":
		j.lineEnd = "\r\n"
	default:
		return fail(http.StatusBadRequest, "INVALIDJOB", "Invalid lineEnding %s", req.LineEnding)
	}
	if kind == "ingest" {
		o, ok := s.object(req.Object)
		if !ok {
			return fail(http.StatusBadRequest, "NOT_FOUND", "Object %s not found", req.Object)
		}
		j.object, j.state = o.Name, "Open"
		switch req.Operation {
		case "insert", "update", "delete", "hardDelete":
		case "upsert":
			ext, ok := o.field(req.ExternalIDFieldName)
			if !ok || !(ext.ExternalID || ext.Type == "id") {
				return fail(http.StatusBadRequest, "INVALIDJOB", "InvalidJob : Field name provided, %s does not match an External ID, Salesforce Id, or indexed field for %s", req.ExternalIDFieldName, o.Name)
			}
			j.extField = ext.Name
		default:
			return fail(http.StatusBadRequest, "INVALIDJOB", "Invalid operation %s: use insert, update, upsert, delete or hardDelete", req.Operation)
		}
	} else {
		if req.Operation != "query" && req.Operation != "queryAll" {
			return fail(http.StatusBadRequest, "INVALIDJOB", "Invalid operation %s: use query or queryAll", req.Operation)
		}
		pq, f := parseSOQL(req.Query)
		if f != nil {
			return f
		}
		cq, f := s.compile(pq, req.Operation == "queryAll")
		if f != nil {
			return f
		}
		if cq.count {
			return fail(http.StatusBadRequest, "INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0")
		}
		j.query, j.soql, j.object, j.state = cq, req.Query, cq.o.Name, "UploadComplete"
	}
	s.bulkMu.Lock()
	s.jobSeq++
	j.id = makeID("750", s.jobSeq)
	s.jobs[j.id] = j
	s.jobOrder = append(s.jobOrder, j.id)
	info := j.info()
	s.bulkMu.Unlock()
	s.writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, j *bulkJob) *failure {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		return fail(http.StatusUnsupportedMediaType, "INVALIDCONTENTTYPE", "Content-Type %q is not text/csv", ct)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUpload+1))
	if err != nil {
		return fail(http.StatusBadRequest, "INVALIDBATCH", "reading the upload failed")
	}
	if len(body) > maxUpload {
		return fail(http.StatusRequestEntityTooLarge, "INVALIDBATCH", "the upload is larger than 150 MB")
	}
	s.bulkMu.Lock()
	defer s.bulkMu.Unlock()
	if j.state != "Open" || j.csv != nil {
		return fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Job is not open for uploads (state %s; one upload per job)", j.state)
	}
	j.csv = body
	j.modified = s.now()
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Server) patchJob(w http.ResponseWriter, r *http.Request, j *bulkJob) *failure {
	body, f := readBody(r)
	if f != nil {
		return f
	}
	var req struct {
		State string `json:"state"`
	}
	if f := decodeJSON(body, &req); f != nil {
		return f
	}
	s.bulkMu.Lock()
	defer s.bulkMu.Unlock()
	switch {
	case req.State == "UploadComplete" && j.kind == "ingest" && j.state == "Open":
		j.state = "UploadComplete"
	case req.State == "Aborted" && (j.state == "Open" || j.state == "UploadComplete" || j.state == "InProgress"):
		j.state = "Aborted"
	default:
		return fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Changing the state of a job from %s to %s is not allowed", j.state, req.State)
	}
	j.modified = s.now()
	s.writeJSON(w, http.StatusOK, j.info())
	return nil
}

// advance moves a job one state on, doing its work when it starts;
// s.bulkMu is held.
func (s *Server) advance(j *bulkJob) {
	switch j.state {
	case "UploadComplete":
		j.state = "InProgress"
		if j.kind == "ingest" {
			s.runIngest(j)
		} else {
			s.runQuery(j)
		}
	case "InProgress":
		if j.errMsg != "" {
			j.state = "Failed"
		} else {
			j.state = "JobComplete"
		}
	default:
		return
	}
	j.modified = s.now()
}

func (s *Server) runQuery(j *bulkJob) {
	var pos *memstore.Position
	for {
		recs, next, more, _, err := s.fetch(j.query, pos, 0, 2000)
		if err != nil {
			j.errMsg = err.Error()
			return
		}
		j.records = append(j.records, recs...)
		if !more {
			return
		}
		pos = next
	}
}

// runIngest writes an ingest job's records, one by one, as the org's
// batches would.
func (s *Server) runIngest(j *bulkJob) {
	o, ok := s.object(j.object)
	if !ok {
		j.errMsg = "InvalidBatch : object " + j.object + " no longer exists"
		return
	}
	text := strings.ReplaceAll(string(j.csv), "\r\n", "\n")
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = j.delimiter
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil || len(rows) == 0 {
		j.errMsg = "InvalidBatch : Failed to parse CSV"
		if err != nil {
			j.errMsg += ": " + err.Error()
		}
		return
	}
	header := rows[0]
	for _, h := range header {
		if _, ok := o.field(h); !ok {
			j.errMsg = "InvalidBatch : Field name not found : " + h
			return
		}
	}
	j.header = header
	idCol := -1
	extCol := -1
	for i, h := range header {
		if strings.EqualFold(h, "Id") {
			idCol = i
		}
		if j.extField != "" && strings.EqualFold(h, j.extField) {
			extCol = i
		}
	}
	if (j.operation == "update" || j.operation == "delete" || j.operation == "hardDelete") && idCol < 0 {
		j.errMsg = "InvalidBatch : Field name not found : Id"
		return
	}
	if j.operation == "upsert" && extCol < 0 {
		j.errMsg = "InvalidBatch : The External ID field " + j.extField + " is not in the header"
		return
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for _, row := range rows[1:] {
		if len(row) != len(header) {
			j.failed = append(j.failed, append([]string{"", "INVALID_FIELD:The row has " + strconv.Itoa(len(row)) + " columns, the header " + strconv.Itoa(len(header)) + ":--"}, row...))
			j.failedRecords++
			j.processed++
			continue
		}
		in := map[string]any{}
		for i, h := range header {
			switch v := row[i]; v {
			case "":
				// An empty cell leaves the field as it is.
			case "#N/A":
				in[h] = nil
			default:
				in[h] = v
			}
		}
		var (
			id      string
			created bool
			werr    = s.recordFault("bulk.ingest")
		)
		switch {
		case werr != nil:
			if j.operation != "insert" && idCol >= 0 {
				id = row[idCol]
			}
		case j.operation == "insert":
			id, werr = s.createRecord(o, in)
			created = werr == nil
		case j.operation == "update" || j.operation == "delete" || j.operation == "hardDelete":
			id = row[idCol]
			cid, f := recordID(o, id)
			if f != nil {
				werr = &writeError{errs: f.errs}
				break
			}
			id = cid
			var rec *memstore.Record
			rec, werr = s.existing(o, cid, dmlError1("INVALID_CROSS_REFERENCE_KEY", nil, "invalid cross reference id"))
			if werr == nil && j.operation == "update" {
				werr = s.updateRecord(o, rec, in, func(k string) bool { return strings.EqualFold(k, "Id") })
			} else if werr == nil {
				werr = s.deleteRecord(o, rec)
			}
		case j.operation == "upsert":
			ext, _ := o.field(j.extField)
			var matches []string
			id, created, matches, werr = s.upsertRecord(o, ext, row[extCol], in)
			if matches != nil {
				werr = dmlError1("DUPLICATE_EXTERNAL_ID", []string{ext.Name}, "%s: more than one record found for external id field: [%s]", ext.Label, strings.Join(matches, ", "))
			}
		}
		j.processed++
		if werr != nil {
			j.failedRecords++
			if j.operation == "insert" {
				id = ""
			}
			j.failed = append(j.failed, append([]string{id, bulkError(werr)}, row...))
			continue
		}
		j.success = append(j.success, append([]string{id, strconv.FormatBool(created)}, row...))
	}
}

// bulkError writes a record's error as Bulk API results do:
// "STATUS_CODE:message:field1,field2 --".
func bulkError(werr *writeError) string {
	e := werr.errs[0]
	return e.Code + ":" + e.Message + ":" + strings.Join(e.Fields, ",") + " --"
}

func (s *Server) ingestResults(w http.ResponseWriter, j *bulkJob, which string) *failure {
	s.bulkMu.Lock()
	defer s.bulkMu.Unlock()
	if j.state == "Open" || j.state == "UploadComplete" {
		return fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Job %s is in state %s; results come once it is processed", j.id, j.state)
	}
	var head []string
	var rows [][]string
	switch which {
	case "successfulResults":
		head, rows = append([]string{"sf__Id", "sf__Created"}, j.header...), j.success
	case "failedResults":
		head, rows = append([]string{"sf__Id", "sf__Error"}, j.header...), j.failed
	default:
		head, rows = j.header, j.unprocessed
		if j.state == "Aborted" || j.state == "Failed" {
			// Nothing of an aborted or failed upload was processed.
			if j.processed == 0 && j.csv != nil {
				text := strings.ReplaceAll(string(j.csv), "\r\n", "\n")
				cr := csv.NewReader(strings.NewReader(text))
				cr.Comma = j.delimiter
				cr.FieldsPerRecord = -1
				if all, err := cr.ReadAll(); err == nil && len(all) > 0 {
					head, rows = all[0], all[1:]
				}
			}
		}
	}
	s.writeCSV(w, j, head, rows)
	return nil
}

func (s *Server) writeCSV(w http.ResponseWriter, j *bulkJob, head []string, rows [][]string) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Comma = j.delimiter
	cw.UseCRLF = j.lineEnd == "\r\n"
	if len(head) > 0 {
		_ = cw.Write(head)
	}
	_ = cw.WriteAll(rows)
	w.Header().Set("Content-Type", "text/csv")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// bulkValue writes a stored value as Bulk API CSV does: null as an empty
// cell, date-times in UTC with a Z.
func bulkValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case crm.Date:
		return x.String()
	case []string:
		return strings.Join(x, ";")
	}
	return strings.Trim(string(appendValue(nil, v)), `"`)
}

func (s *Server) queryResults(w http.ResponseWriter, r *http.Request, j *bulkJob) *failure {
	s.bulkMu.Lock()
	state, recs := j.state, j.records
	s.bulkMu.Unlock()
	if state != "JobComplete" {
		return fail(http.StatusBadRequest, "INVALIDJOBSTATE", "Job %s is in state %s; results come once it is JobComplete", j.id, state)
	}
	start := 0
	if loc := r.URL.Query().Get("locator"); loc != "" {
		n, err := strconv.ParseInt(loc, 36, 64)
		if err != nil || n < 0 || int(n) > len(recs) {
			return fail(http.StatusBadRequest, "INVALIDLOCATOR", "Invalid locator %s", clipText(loc, 40))
		}
		start = int(n)
	}
	max := len(recs) - start
	if m := r.URL.Query().Get("maxRecords"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n <= 0 {
			return fail(http.StatusBadRequest, "INVALIDPARAMETER", "maxRecords must be a positive number")
		}
		max = min(max, n)
	}
	end := start + max
	head := make([]string, len(j.query.fields))
	for i, f := range j.query.fields {
		head[i] = f.Name
	}
	rows := make([][]string, 0, end-start)
	for _, rec := range recs[start:end] {
		row := make([]string, len(j.query.fields))
		for i, f := range j.query.fields {
			if f.virtual {
				row[i] = strconv.FormatBool(rec.Deleted)
				continue
			}
			row[i] = bulkValue(rec.Fields[f.Name])
		}
		rows = append(rows, row)
	}
	next := "null"
	if end < len(recs) {
		next = strconv.FormatInt(int64(end), 36)
	}
	w.Header().Set("Sforce-Locator", next)
	w.Header().Set("Sforce-NumberOfRecords", strconv.Itoa(len(rows)))
	s.writeCSV(w, j, head, rows)
	return nil
}
