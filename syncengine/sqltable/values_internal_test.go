package sqltable

import (
	"testing"

	"github.com/crmkit/crmkit/crm"
)

var kinds = []crm.ValueKind{crm.ValueString, crm.ValueBool, crm.ValueInt64, crm.ValueDecimal, crm.ValueTime, crm.ValueDate, crm.ValueStrings}

// FuzzDecode feeds arbitrary database values to the decoder of every kind:
// it never panics, returns a value of the kind or an error, and a value it
// returns survives being stored and read again unchanged.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"12.50", "1e3", "", "null", `["a","b"]`, `[1]`, "2026-11-27T13:00:00.5Z", "2026-11-27 13:00:00",
		"2026-11-27", "true", "f", "9223372036854775808", "-0", "NaN"} {
		f.Add(s, int64(len(s)), float64(len(s))/3)
	}
	f.Fuzz(func(t *testing.T, s string, n int64, x float64) {
		for _, k := range kinds {
			for _, in := range []any{s, []byte(s), n, x, n != 0} {
				v, err := decode(k, in)
				if err != nil {
					continue
				}
				if v == nil {
					if in != nil && !(k == crm.ValueStrings) {
						t.Fatalf("decode(%s, %T %v) = nil without error", k, in, in)
					}
					continue
				}
				if got := crm.ValueKindOf(v); got != k {
					t.Fatalf("decode(%s, %T %v) = %T", k, in, in, v)
				}
				for _, d := range []Dialect{SQLite, PostgreSQL} {
					stored, err := encode(d, k, v)
					if err != nil {
						t.Fatalf("encode(%s, %s, %#v): %v", d, k, v, err)
					}
					back, err := decode(k, stored)
					if err != nil || !crm.EqualValues(back, v) {
						t.Fatalf("%s value %#v stored by %s as %#v reads back as %#v, %v", k, v, d, stored, back, err)
					}
				}
			}
		}
		_ = truthy(s)
		_, _ = decodeVersion(s)
		_, _ = decodeID(s)
	})
}

func TestEncodeRefusesOtherKinds(t *testing.T) {
	for _, k := range kinds {
		for _, v := range []any{3, 1.5, "s", true, []any{"a"}} {
			if crm.ValueKindOf(v) == k {
				continue
			}
			if _, err := encode(SQLite, k, v); err == nil {
				t.Errorf("encode(%s, %T) accepted it", k, v)
			}
		}
	}
}
