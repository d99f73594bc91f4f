package salesforce

import (
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
// bin for 15 days) come in the same ordered stream as creates and updates:
//
//	SELECT ... FROM Contact WHERE SystemModstamp >= <cursor - lookback>
//	ORDER BY SystemModstamp ASC, Id ASC
//
// Salesforce stamps SystemModstamp when a transaction starts and the row
// becomes visible when it commits, so a row can appear later with a stamp
// older than rows already read. Each call therefore reads again from the
// lookback window before its cursor and skips the rows it has already
// delivered, which the cursor remembers as hashes of (id, SystemModstamp).

// feedCursor is the change feed's position. It is encoded as URL-safe
// base64 of JSON, so that it can be stored anywhere a string can.
type feedCursor struct {
	V    int    `json:"v"`
	Mark string `json:"m,omitempty"` // the high-water SystemModstamp, RFC 3339
	// Seen holds, for each row delivered at or after Mark - lookback, the
	// row's SystemModstamp in Unix milliseconds and an FNV-64 hash of its
	// id and stamp, packed as 16 bytes, base64.
	Seen string `json:"s,omitempty"`
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

func decodeCursor(object, s string) (time.Time, []seenRow, error) {
	bad := func(why string) error {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "changes", Object: object,
			Message: "the change cursor is not one this driver made (" + why + "): pass ChangePage.Cursor as it was returned, or start again from an empty cursor"}
	}
	if s == "" {
		return time.Time{}, nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, nil, bad("not base64")
	}
	var c feedCursor
	if err := json.Unmarshal(raw, &c); err != nil || c.V != 1 {
		return time.Time{}, nil, bad("not a version 1 cursor")
	}
	var mark time.Time
	if c.Mark != "" {
		if mark, err = time.Parse(time.RFC3339Nano, c.Mark); err != nil {
			return time.Time{}, nil, bad("bad mark")
		}
	}
	packed, err := base64.RawURLEncoding.DecodeString(c.Seen)
	if err != nil || len(packed)%16 != 0 {
		return time.Time{}, nil, bad("bad seen list")
	}
	seen := make([]seenRow, len(packed)/16)
	for i := range seen {
		seen[i] = seenRow{ms: int64(binary.BigEndian.Uint64(packed[16*i:])), hash: binary.BigEndian.Uint64(packed[16*i+8:])}
	}
	return mark, seen, nil
}

func encodeCursor(mark time.Time, seen []seenRow) string {
	c := feedCursor{V: 1}
	if !mark.IsZero() {
		c.Mark = mark.UTC().Format(time.RFC3339Nano)
	}
	if len(seen) > 0 {
		packed := make([]byte, 16*len(seen))
		for i, r := range seen {
			binary.BigEndian.PutUint64(packed[16*i:], uint64(r.ms))
			binary.BigEndian.PutUint64(packed[16*i+8:], r.hash)
		}
		c.Seen = base64.RawURLEncoding.EncodeToString(packed)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Changes returns the next page of an object's creates, updates and
// deletes after req.Cursor. A change is ChangeCreated when the row was
// created after the cursor's mark, ChangeDeleted when it is in the recycle
// bin, and ChangeUpdated otherwise. The cursor survives restarts: it holds
// the mark and the rows already delivered within the lookback window, and
// nothing else.
func (d *Driver) Changes(ctx context.Context, req crm.ChangesRequest) (*crm.ChangePage, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: changes %s: %w", Name, req.Object, err)
	}
	s, err := d.describe(ctx, req.Object)
	if err != nil {
		return nil, err
	}
	mark, seen, err := decodeCursor(s.schema.Object, req.Cursor)
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
	soql := "SELECT " + strings.Join(fields, ", ") + " FROM " + s.schema.Object
	if !mark.IsZero() {
		soql += " WHERE SystemModstamp >= " + soqlTime(mark.Add(-d.lookback))
	}
	soql += " ORDER BY SystemModstamp ASC, Id ASC"

	limit := req.PageSize
	if limit <= 0 {
		limit = MaxPageSize
	}
	delivered := map[uint64]bool{}
	for _, r := range seen {
		delivered[r.hash] = true
	}
	page := &crm.ChangePage{}
	newMark := mark
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
			if delivered[h] {
				continue
			}
			if len(page.Changes) == limit {
				page.More = true
				break
			}
			kind := crm.ChangeUpdated
			switch {
			case rec.Deleted:
				kind = crm.ChangeDeleted
			case mark.IsZero():
				kind = crm.ChangeCreated
			default:
				if created, ok := rec.Fields["CreatedDate"].(time.Time); ok && created.After(mark) {
					kind = crm.ChangeCreated
				}
			}
			page.Changes = append(page.Changes, crm.Change{Kind: kind, Record: rec})
			delivered[h] = true
			seen = append(seen, seenRow{ms: ms, hash: h})
			if rec.ModifiedAt.After(newMark) {
				newMark = rec.ModifiedAt
			}
		}
		if page.More || qp.Done {
			break
		}
		if !cursorRE.MatchString(qp.NextRecordsURL) {
			return nil, &crm.Error{Kind: crm.KindUnavailable, CRM: Name, Operation: "changes", Object: s.schema.Object,
				Message: "Salesforce said more records follow but sent no usable nextRecordsUrl"}
		}
		r = request{op: "changes", object: s.schema.Object, method: http.MethodGet, path: qp.NextRecordsURL, raw: true, header: r.header}
	}
	// Keep only the rows the next call's lookback window will read again.
	floor := newMark.Add(-d.lookback).UnixMilli()
	kept := seen[:0]
	for _, r := range seen {
		if r.ms >= floor {
			kept = append(kept, r)
		}
	}
	page.Cursor = encodeCursor(newMark, kept)
	return page, nil
}
