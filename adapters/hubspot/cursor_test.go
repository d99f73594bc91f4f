package hubspot_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/crmkit/crmkit/crm"
)

// sixFilters is one group of six filters: it leaves no room for the id
// filter that keyset paging adds, so an unordered search pages by offset.
var sixFilters = crm.And(
	crm.NotNull("firstname"), crm.NotNull("lastname"), crm.NotNull("email"),
	crm.NotNull("crmkit_score"), crm.NotNull("crmkit_external_id"), crm.NotNull("createdate"),
)

func rawCursor(json string) string { return base64.RawURLEncoding.EncodeToString([]byte(json)) }

// TestQueryRefusesForeignCursor resumes queries from cursors that decode
// but could not have come from a page of the same query: each must be
// refused with KindInvalidRequest, never panic or send a search.
func TestQueryRefusesForeignCursor(t *testing.T) {
	srv, drv := newPortal(t)
	if _, err := srv.Seed("contacts", map[string]string{"firstname": "a"}); err != nil {
		t.Fatal(err)
	}
	ordered := []crm.Order{crm.Asc("firstname")}
	for _, tc := range []struct {
		name   string
		query  crm.Query
		cursor string
	}{
		{"restart without an order, filter full", crm.Query{Object: "contacts", Where: sixFilters}, `{"v":1,"m":"offset","r":true,"a":"0"}`},
		{"restart on a keyset search", crm.Query{Object: "contacts", Where: crm.NotNull("firstname")}, `{"v":1,"m":"key","r":true}`},
		{"restart on a list", crm.Query{Object: "contacts"}, `{"v":1,"m":"list","r":true}`},
		{"no mode", crm.Query{Object: "contacts", OrderBy: ordered}, `{"v":1,"a":"5"}`},
		{"offset cursor on a list", crm.Query{Object: "contacts"}, `{"v":1,"m":"offset","a":"5"}`},
		{"list cursor on a search", crm.Query{Object: "contacts", OrderBy: ordered}, `{"v":1,"m":"list","a":"5"}`},
		{"key cursor on an ordered search", crm.Query{Object: "contacts", OrderBy: ordered}, `{"v":1,"m":"key","l":"5"}`},
		{"offset cursor on a keyset search", crm.Query{Object: "contacts", Where: crm.NotNull("firstname")}, `{"v":1,"m":"offset","a":"5"}`},
		{"native cursor on a search", crm.Query{Object: "contacts", OrderBy: ordered}, `{"v":1,"m":"native","a":"5"}`},
		{"negative offset", crm.Query{Object: "contacts", OrderBy: ordered}, `{"v":1,"m":"offset","a":"-5"}`},
		{"offset past the cap", crm.Query{Object: "contacts", Where: sixFilters}, `{"v":1,"m":"offset","a":"99999999999999999"}`},
		{"negative native offset", crm.Query{Object: "contacts", Native: `{"filterGroups":[]}`}, `{"v":1,"m":"native","a":"-1"}`},
		{"negative count", crm.Query{Object: "contacts", OrderBy: ordered}, `{"v":1,"m":"offset","a":"1","n":-3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := drv.Query(t.Context(), crm.QueryRequest{Query: tc.query, Cursor: rawCursor(tc.cursor), PageSize: 1})
			if !errors.Is(err, crm.ErrInvalidRequest) {
				t.Fatalf("Query with cursor %s = %+v, %v; want KindInvalidRequest", tc.cursor, p, err)
			}
		})
	}
}

// TestQueryCursorsOfEachPath pages each query path to its end, one record
// a page, so the cursor checks accept every cursor the driver makes.
func TestQueryCursorsOfEachPath(t *testing.T) {
	srv, drv := newPortal(t)
	if _, err := srv.Seed("contacts",
		map[string]string{"firstname": "a", "lastname": "x"},
		map[string]string{"firstname": "b", "lastname": "y"},
		map[string]string{"firstname": "c", "lastname": "z"}); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]crm.Query{
		"list":   {Object: "contacts"},
		"key":    {Object: "contacts", Where: crm.NotNull("firstname")},
		"offset": {Object: "contacts", Where: crm.NotNull("firstname"), OrderBy: []crm.Order{crm.Desc("firstname")}},
		"native": {Object: "contacts", Native: `{"filterGroups":[]}`},
	} {
		t.Run(name, func(t *testing.T) {
			cursor, n := "", 0
			for range 10 {
				p, err := drv.Query(t.Context(), crm.QueryRequest{Query: q, Cursor: cursor, PageSize: 1})
				if err != nil {
					t.Fatalf("page %d: %v", n, err)
				}
				n += len(p.Records)
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			if n != 3 {
				t.Fatalf("read %d records, want 3", n)
			}
		})
	}
}
