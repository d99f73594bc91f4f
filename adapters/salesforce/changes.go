package salesforce

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// The change feed reads an object by SystemModstamp, which Salesforce
// updates on every change, by a user or by the system, and which is
// indexed. It uses queryAll, so that deleted rows (IsDeleted, in the recycle
// bin for 15 days) come in the same ordered stream as creates and updates,
// ordered by SystemModstamp, Id.
//
// Salesforce stamps SystemModstamp when a transaction starts and the row
// becomes visible when it commits, so a row can appear later with a stamp
// older than rows already read. The feed therefore works in drains: the
// first call of a drain (and any call whose mark has moved half a lookback
// past the last window read) reads from the lookback window before its
// mark, skipping the rows it has already delivered, which the cursor
// remembers as hashes of (id, SystemModstamp); the calls after it page
// forward with a keyset,
//
//	WHERE SystemModstamp >= <stamp of the last row read>
//
// so that draining N rows costs about N/PageSize calls.

// maxSeen caps the rows the cursor remembers; beyond it the oldest are
// forgotten, and a window read may deliver them again (at least once).
const maxSeen = 10000

// cursorV2 starts a version 2 cursor, which is binary, URL-safe base64.
const cursorV2 = 2

// feedCursorV1 is the version 1 cursor (JSON, URL-safe base64), still
// accepted so that cursors stored before an upgrade resume.
type feedCursorV1 struct {
	V    int    `json:"v"`
	Mark string `json:"m,omitempty"`
	Seen string `json:"s,omitempty"`
}

// feedCursor is the change feed's position.
type feedCursor struct {
	mark   int64 // the newest SystemModstamp delivered, Unix ms; valid if hasMark
	posMS  int64 // the stamp of the last row read, where the next read resumes
	window int64 // the mark when the lookback window was last read
	// hasMark is false before the first row; midDrain is true when the
	// last page said More.
	hasMark, midDrain bool
	seen              []seenRow // sorted by ms
}

type seenRow struct {
	ms   int64
	hash uint64
}

func rowHash(id string, ms int64) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(ms))
	_, _ = h.Write(b[:])
	return h.Sum64()
}

func decodeCursor(object, s string) (feedCursor, error) {
	bad := func(why string) error {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "changes", Object: object,
			Message: "the change cursor is not one this driver made (" + why + "): pass ChangePage.Cursor as it was returned, or start again from an empty cursor"}
	}
	var c feedCursor
	if s == "" {
		return c, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) == 0 {
		return c, bad("not base64")
	}
	if raw[0] != cursorV2 {
		return decodeV1(raw, bad)
	}
	b := raw[1:]
	fail := false
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			fail = true
			return 0
		}
		b = b[n:]
		return v
	}
	sv := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			fail = true
			return 0
		}
		b = b[n:]
		return v
	}
	flags := uv()
	c.hasMark, c.midDrain = flags&1 != 0, flags&2 != 0
	c.mark, c.posMS, c.window = sv(), sv(), sv()
	count := uv()
	if fail || flags > 3 || count > maxSeen {
		return feedCursor{}, bad("bad position")
	}
	c.seen = make([]seenRow, 0, count)
	ms := sv()
	for range count {
		ms += int64(uv())
		if fail || len(b) < 8 {
			return feedCursor{}, bad("bad seen list")
		}
		c.seen = append(c.seen, seenRow{ms: ms, hash: binary.BigEndian.Uint64(b)})
		b = b[8:]
	}
	if fail || len(b) != 0 {
		return feedCursor{}, bad("bad seen list")
	}
	return c, nil
}

func decodeV1(raw []byte, bad func(string) error) (feedCursor, error) {
	var v1 feedCursorV1
	if err := json.Unmarshal(raw, &v1); err != nil || v1.V != 1 {
		return feedCursor{}, bad("not a version 1 or 2 cursor")
	}
	var c feedCursor
	if v1.Mark != "" {
		mark, err := time.Parse(time.RFC3339Nano, v1.Mark)
		if err != nil {
			return feedCursor{}, bad("bad mark")
		}
		c.hasMark, c.mark, c.posMS, c.window = true, mark.UnixMilli(), mark.UnixMilli(), mark.UnixMilli()
	}
	packed, err := base64.RawURLEncoding.DecodeString(v1.Seen)
	if err != nil || len(packed)%16 != 0 {
		return feedCursor{}, bad("bad seen list")
	}
	for i := range len(packed) / 16 {
		c.seen = append(c.seen, seenRow{ms: int64(binary.BigEndian.Uint64(packed[16*i:])), hash: binary.BigEndian.Uint64(packed[16*i+8:])})
	}
	slices.SortFunc(c.seen, func(a, b seenRow) int { return cmp.Compare(a.ms, b.ms) })
	return c, nil
}

func (c *feedCursor) encode() string {
	b := []byte{cursorV2}
	var flags uint64
	if c.hasMark {
		flags |= 1
	}
	if c.midDrain {
		flags |= 2
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, c.mark)
	b = binary.AppendVarint(b, c.posMS)
	b = binary.AppendVarint(b, c.window)
	b = binary.AppendUvarint(b, uint64(len(c.seen)))
	var prev int64
	if len(c.seen) > 0 {
		prev = c.seen[0].ms
	}
	b = binary.AppendVarint(b, prev)
	for _, r := range c.seen {
		b = binary.AppendUvarint(b, uint64(r.ms-prev))
		b = binary.BigEndian.AppendUint64(b, r.hash)
		prev = r.ms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Changes returns the next page of an object's creates, updates and
// deletes after req.Cursor. A change is ChangeCreated when the row was
// created after the cursor's mark, ChangeDeleted when it is in the recycle
// bin, and ChangeUpdated otherwise. The cursor survives restarts: it holds
// the mark, the keyset position, and the rows already delivered within the
// lookback window (at most maxSeen of them), and nothing else.
func (d *Driver) Changes(ctx context.Context, req crm.ChangesRequest) (*crm.ChangePage, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: changes %s: %w", Name, req.Object, err)
	}
	s, err := d.describe(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	cur, err := decodeCursor(s.schema.Object, req.Cursor)
	if err != nil {
		return nil, err
	}
	if s.schema.ModifiedField == "" {
		return nil, &crm.Error{Kind: crm.KindUnsupported, CRM: Name, Operation: "changes", Object: s.schema.Object,
			Message: s.schema.Object + " has no SystemModstamp, so it has no change feed"}
	}
	c := &compiler{s: s, op: "changes"}
	fields, err := c.selectList(req.Fields, true)
	if err != nil {
		return nil, err
	}
	if f, ok := s.field("CreatedDate"); ok && !slices.Contains(fields, f.Name) {
		fields = append(fields, f.Name)
	}
	lookback := d.lookback.Milliseconds()
	// Read the lookback window at the start of a drain, and again whenever
	// a long drain has moved its mark half a window past the last read, so
	// that a late commit is caught however long the drain runs.
	window := cur.hasMark && lookback > 0 && (!cur.midDrain || cur.mark-cur.window >= lookback/2)
	soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + s.schema.Object
	switch {
	case window:
		soql += " WHERE SystemModstamp >= " + soqlTime(time.UnixMilli(cur.mark-lookback))
		cur.window = cur.mark
	case cur.hasMark:
		// SOQL refuses > and < on an id field, so the keyset is the stamp
		// alone, and the rows of its last millisecond, which the cursor
		// remembers, are skipped.
		soql += " WHERE SystemModstamp >= " + soqlTime(time.UnixMilli(cur.posMS))
	}
	soql += " ORDER BY SystemModstamp ASC, Id ASC"

	limit := req.PageSize
	if limit <= 0 {
		limit = MaxPageSize
	}
	delivered := make(map[uint64]bool, len(cur.seen))
	for _, r := range cur.seen {
		delivered[r.hash] = true
	}
	page := &crm.ChangePage{}
	mark := time.UnixMilli(cur.mark)
	posMS, moved := cur.posMS, false
	r := request{op: "changes", object: s.schema.Object, method: http.MethodGet, path: "/queryAll",
		query:  url.Values{"q": {soql}},
		header: http.Header{"Sforce-Query-Options": {"batchSize=" + strconv.Itoa(pageSize(limit))}}}
	if err := d.checkURI("changes", s.schema.Object, r, "narrow ChangesRequest.Fields to the fields the sync needs"); err != nil {
		return nil, err
	}
	for {
		var qp queryPage
		if _, err := d.call(ctx, r, &qp); err != nil {
			return nil, err
		}
		for _, raw := range qp.Records {
			rec, err := decodeRecord(s, raw)
			if err != nil {
				return nil, d.badAnswer("changes", s.schema.Object, err)
			}
			ms := rec.ModifiedAt.UnixMilli()
			h := rowHash(rec.ID, ms)
			if !delivered[h] {
				if len(page.Changes) == limit {
					page.More = true
					break
				}
				kind := crm.ChangeUpdated
				switch {
				case rec.Deleted:
					kind = crm.ChangeDeleted
				case !cur.hasMark:
					kind = crm.ChangeCreated
				default:
					if created, ok := rec.Fields["CreatedDate"].(time.Time); ok && created.After(mark) {
						kind = crm.ChangeCreated
					}
				}
				page.Changes = append(page.Changes, crm.Change{Kind: kind, Record: rec})
				delivered[h] = true
				cur.seen = append(cur.seen, seenRow{ms: ms, hash: h})
			}
			// The next call resumes after the last row this one read.
			posMS, moved = ms, true
		}
		if page.More || qp.Done {
			break
		}
		// The position is kept, so a page half full can end here rather
		// than pay a query for the few rows a re-read row displaced.
		if len(page.Changes) >= (limit+1)/2 {
			page.More = true
			break
		}
		if !cursorRE.MatchString(qp.NextRecordsURL) {
			return nil, &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: "changes", Object: s.schema.Object,
				Message: "Salesforce said more records follow but sent no usable nextRecordsUrl"}
		}
		r = request{op: "changes", object: s.schema.Object, method: http.MethodGet, path: qp.NextRecordsURL, raw: true, header: r.header}
	}
	for _, ch := range page.Changes {
		if ms := ch.Record.ModifiedAt.UnixMilli(); !cur.hasMark || ms > cur.mark {
			cur.mark, cur.hasMark = ms, true
		}
	}
	// A window read that stopped behind the old position resumes there; one
	// that read nothing keeps the old position.
	if moved {
		cur.posMS = posMS
	}
	if !cur.hasMark {
		cur.window = 0
	} else if !window && !cur.midDrain {
		cur.window = cur.mark
	}
	cur.midDrain = page.More
	// Keep only the rows the next window read will see again, newest
	// first up to maxSeen.
	floor := cur.mark - lookback
	cur.seen = slices.DeleteFunc(cur.seen, func(r seenRow) bool { return r.ms < floor })
	slices.SortFunc(cur.seen, func(a, b seenRow) int { return cmp.Compare(a.ms, b.ms) })
	if len(cur.seen) > maxSeen {
		cur.seen = cur.seen[len(cur.seen)-maxSeen:]
	}
	page.Cursor = cur.encode()
	return page, nil
}
