package dynamicstest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MaxBatchOperations is the most operations one $batch may hold, counting
// each operation inside a change set.
const MaxBatchOperations = 1000

// changeSet is the state of one change set while it runs: the URLs its
// Content-IDs produced (for $n references), how to undo what it did, and
// the deletes it will apply when it commits.
type changeSet struct {
	refs    map[string]string // Content-ID -> entity path, such as accounts(<guid>)
	undo    []func()
	deletes []pendingDelete
	deleted map[string]bool // table/id of pending deletes
}

type pendingDelete struct {
	table *etable
	id    string
}

// batchOp is one operation of a $batch: an HTTP request in a part.
type batchOp struct {
	contentID string
	method    string
	target    string // the request line's URL
	header    http.Header
	body      []byte
}

// batchPart is either one operation or a change set of them.
type batchPart struct {
	op        *batchOp
	changeSet []*batchOp
}

// batchResult is the answer to one part: a response, or a change set's
// responses.
type batchResult struct {
	contentID string
	resp      *response
	changeSet []batchResult
}

func boundaryOf(contentType string) (string, bool) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.EqualFold(mt, "multipart/mixed") || params["boundary"] == "" {
		return "", false
	}
	return params["boundary"], true
}

// parseBatch reads the parts of a $batch body, leniently: the boundary may
// be quoted or bare, and blank lines may precede a part's request line.
func parseBatch(body []byte, boundary string, nested bool) ([]batchPart, *apiError) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []batchPart
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errBadRequest(fmt.Sprintf("The batch request body is not a valid multipart/mixed body with boundary '%s': %v.", boundary, err))
		}
		content, err := io.ReadAll(p)
		if err != nil {
			return nil, errBadRequest(fmt.Sprintf("A batch part could not be read: %v.", err))
		}
		if inner, ok := boundaryOf(p.Header.Get("Content-Type")); ok {
			if nested {
				return nil, errBadRequest("A change set cannot contain another change set.")
			}
			ops, aerr := parseBatch(content, inner, true)
			if aerr != nil {
				return nil, aerr
			}
			var cs []*batchOp
			for _, o := range ops {
				cs = append(cs, o.op)
			}
			parts = append(parts, batchPart{changeSet: cs})
			continue
		}
		op, aerr := parseOp(content)
		if aerr != nil {
			return nil, aerr
		}
		if id := p.Header.Get("Content-ID"); id != "" {
			op.contentID = id
		}
		parts = append(parts, batchPart{op: op})
	}
	return parts, nil
}

// parseOp reads the HTTP request inside a part: request line, headers, body.
func parseOp(content []byte) (*batchOp, *apiError) {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(content)))
	var line string
	for {
		l, err := r.ReadLine()
		if err != nil {
			return nil, errBadRequest("A batch part holds no HTTP request line.")
		}
		if strings.TrimSpace(l) != "" {
			line = l
			break
		}
	}
	f := strings.Fields(line)
	if len(f) < 2 || (len(f) == 3 && !strings.HasPrefix(f[2], "HTTP/")) {
		return nil, errBadRequest(fmt.Sprintf("The batch part request line '%s' is not 'METHOD URL HTTP/1.1'.", clipText(line)))
	}
	hdr, err := r.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, errBadRequest(fmt.Sprintf("The headers of the batch part '%s' are malformed.", clipText(line)))
	}
	rest, _ := io.ReadAll(r.R)
	op := &batchOp{method: strings.ToUpper(f[0]), target: f[1], header: http.Header(hdr), body: bytes.TrimRight(rest, "\r\n")}
	op.contentID = op.header.Get("Content-ID")
	return op, nil
}

// batch answers POST $batch.
func (e *env) batch(o *request) *response {
	boundary, ok := boundaryOf(o.header.Get("Content-Type"))
	if !ok {
		return errResponse(errBadRequest("A $batch request needs Content-Type: multipart/mixed; boundary=batch_<id>."))
	}
	p, aerr := parsePrefer(o.header)
	if aerr != nil {
		return errResponse(aerr)
	}
	parts, aerr := parseBatch(o.body, boundary, false)
	if aerr != nil {
		return errResponse(aerr)
	}
	n := 0
	for _, part := range parts {
		n += max(len(part.changeSet), 1)
	}
	if n > MaxBatchOperations {
		return errResponse(&apiError{status: http.StatusBadRequest, code: codeBatchLimitReached,
			message: fmt.Sprintf("The number of requests in the batch is %d, above the limit of %d.", n, MaxBatchOperations)})
	}
	status := http.StatusOK
	var results []batchResult
	for _, part := range parts {
		if o.ctx.Err() != nil {
			break
		}
		if part.op != nil {
			resp := e.serveOp(o, part.op, nil)
			results = append(results, batchResult{contentID: part.op.contentID, resp: resp})
			if resp.status >= 400 && !p.continueOnError {
				status = resp.status
				break
			}
			continue
		}
		res, failed := e.runChangeSet(o, part.changeSet)
		results = append(results, res)
		if failed != 0 && !p.continueOnError {
			status = failed
			break
		}
	}
	h := http.Header{}
	if p.continueOnError {
		h.Set("Preference-Applied", "odata.continue-on-error")
	}
	respBoundary := "batchresponse_" + newGUID()
	h.Set("Content-Type", "multipart/mixed; boundary="+respBoundary)
	return &response{status: status, header: h, body: writeBatch(respBoundary, results)}
}

// runChangeSet runs a change set's operations under the write lock, all or
// nothing: at the first failure it undoes what the earlier ones did and
// answers with that failure alone, returning its status.
func (e *env) runChangeSet(o *request, ops []*batchOp) (batchResult, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cs := &changeSet{refs: map[string]string{}, deleted: map[string]bool{}}
	var out []batchResult
	fail := func(id string, resp *response) (batchResult, int) {
		for i := len(cs.undo) - 1; i >= 0; i-- {
			cs.undo[i]()
		}
		return batchResult{contentID: id, resp: resp}, resp.status
	}
	for _, op := range ops {
		if op.method == http.MethodGet {
			return fail(op.contentID, errResponse(errBadRequest("A GET request is not allowed inside a change set; put it in the batch outside any change set.")))
		}
		resp := e.serveOp(o, op, cs)
		if resp.status >= 400 {
			return fail(op.contentID, resp)
		}
		if op.contentID != "" {
			if loc := resp.header.Get("OData-EntityId"); loc != "" {
				cs.refs[op.contentID] = strings.TrimPrefix(loc, o.base)
			}
		}
		out = append(out, batchResult{contentID: op.contentID, resp: resp})
	}
	for _, d := range cs.deletes {
		if _, err := e.store.Delete(d.table.LogicalName, d.id); err != nil {
			return fail("", errResponse(fromStore(d.table, err)))
		}
	}
	return batchResult{changeSet: out}, 0
}

// serveOp runs one operation of a batch through the Web API.
func (e *env) serveOp(o *request, op *batchOp, cs *changeSet) *response {
	target := op.target
	if strings.HasPrefix(target, "$") {
		if cs == nil {
			return errResponse(errBadRequest(fmt.Sprintf("Content-ID Reference: '%s' can only be used inside a change set.", target)))
		}
		ref, rest, _ := strings.Cut(target[1:], "/")
		path, ok := cs.refs[ref]
		if !ok {
			return errResponse(errBadRequest(fmt.Sprintf("Content-ID Reference: '$%s' does not exist in the batch context.", ref)))
		}
		target = o.base + path
		if rest != "" {
			target += "/" + rest
		}
	}
	u, err := url.Parse(target)
	if err != nil {
		return errResponse(errBadRequest(fmt.Sprintf("The batch part URL '%s' is not a valid URL.", clipText(op.target))))
	}
	path := u.EscapedPath()
	switch {
	case strings.HasPrefix(path, APIPath):
		path = strings.TrimPrefix(path, APIPath)
	case u.IsAbs() || strings.HasPrefix(path, "/"):
		return errResponse(&apiError{status: http.StatusNotFound, code: codeHTTP, message: fmt.Sprintf("Resource not found for the segment '%s'.", path)})
	}
	if path == "$batch" {
		return errResponse(errBadRequest("A batch cannot contain another batch."))
	}
	req := &request{ctx: o.ctx, method: op.method, path: path, query: u.RawQuery, header: op.header, body: op.body, base: o.base, caller: o.caller, cs: cs}
	resp := e.serve(req)
	if loc := resp.header.Get("OData-EntityId"); loc != "" && op.method == http.MethodPost {
		resp.header.Set("Location", loc)
	}
	return resp
}

// writeBatch renders the batch response: batchresponse_ parts, change sets
// nested under changesetresponse_ boundaries, CRLF line ends, no preamble.
func writeBatch(boundary string, results []batchResult) []byte {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.SetBoundary(boundary)
	for _, r := range results {
		if r.resp == nil {
			inner := "changesetresponse_" + newGUID()
			var cs bytes.Buffer
			cw := multipart.NewWriter(&cs)
			_ = cw.SetBoundary(inner)
			for _, c := range r.changeSet {
				writeOpResponse(cw, c)
			}
			_ = cw.Close()
			w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + inner}})
			_, _ = w.Write(cs.Bytes())
			continue
		}
		writeOpResponse(mw, r)
	}
	_ = mw.Close()
	return buf.Bytes()
}

func writeOpResponse(mw *multipart.Writer, r batchResult) {
	h := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}}
	if r.contentID != "" {
		h["Content-ID"] = []string{r.contentID}
	}
	w, _ := mw.CreatePart(h)
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(r.resp.status) + " " + http.StatusText(r.resp.status) + "\r\n")
	hdr := r.resp.header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("OData-Version", "4.0")
	if len(r.resp.body) > 0 && hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "application/json; odata.metadata=minimal")
	}
	spellHeaders(hdr)
	keys := make([]string, 0, len(hdr))
	for k := range hdr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range hdr[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	b.Write(r.resp.body)
	_, _ = w.Write(b.Bytes())
}
