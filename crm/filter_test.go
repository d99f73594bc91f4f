package crm

import (
	"errors"
	"testing"
	"time"
)

func TestFilterStringAndWalk(t *testing.T) {
	f := And(Eq("Name", `O'Brien`), Or(Gt("Score", int64(3)), IsNull("Email")), nil, Not(In("Status", "a", "b")))
	want := `(Name = "O'Brien") and ((Score > 3) or (Email is null)) and (not (Status in ("a", "b")))`
	if f.String() != want {
		t.Fatalf("String() =\n%s\nwant\n%s", f, want)
	}
	var fields []string
	_ = WalkFilter(f, func(f Filter) error {
		switch x := f.(type) {
		case *Compare:
			fields = append(fields, x.Field)
		case *NullFilter:
			fields = append(fields, x.Field)
		case *InFilter:
			fields = append(fields, x.Field)
		}
		return nil
	})
	if len(fields) != 4 {
		t.Fatalf("WalkFilter visited %v", fields)
	}
}

func TestQueryValidate(t *testing.T) {
	bad := []Query{
		{},
		{Object: "Contact", Native: "SELECT Id FROM Contact", Limit: 3},
		{Object: "Contact", Limit: -1},
		{Object: "Contact", Where: Eq("Email", nil)},
		{Object: "Contact", Where: And(In("Status"))},
		{Object: "Contact", Where: &Compare{Field: "Name", Op: CmpContains, Value: 3}},
		{Object: "Contact", Where: Or()},
		{Object: "Contact", Where: Or(nil, nil)},
		{Object: "Contact", Where: &AndFilter{}},
		{Object: "Contact", Where: Not(nil)},
	}
	for _, q := range bad {
		err := q.Validate()
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Validate(%+v) = %v, want an invalid-request error", q, err)
		}
	}
	ok := Query{Object: "Contact", Where: And(ModifiedSince(time.Now()), Contains("Name", "a"))}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if And(nil, nil) != nil {
		t.Error("And of nothing should be nil (match every record)")
	}
	if f := Eq("a", "b"); And(nil, f) != f || Or(f, nil) != f {
		t.Error("And or Or of one filter should be that filter")
	}
}
