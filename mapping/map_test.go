package mapping_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crm/memcrm"
	"github.com/crmkit/crmkit/mapping"
)

var (
	companyRef = mapping.Ref{AppObject: "company", CRMObject: "Account"}
	ctx        = context.Background()
)

// ada is an application record with every field of the example's customers.
func ada() crm.Fields {
	return crm.Fields{
		"id": "c-1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
		"phone": "+44 20 7946 0958", "mobile": "+44 7700 900123", "national_id": "QQ123456C",
		"password_hash": "$argon2id$secret", "tier": "gold", "interests": "software, training",
		"birthday": crm.Date{Year: 1815, Month: time.December, Day: 10}, "score": " 42 ",
		"lifetime_cents": int64(123456), "newsletter": "Y", "company_id": int64(42),
		"signed_up_at": "2026-03-29T02:30:00", "bio": "Mathematician",
	}
}

func linked() *mapping.MemoryLinks {
	links := mapping.NewMemoryLinks()
	links.Link(companyRef, "42", "001A")
	return links
}

func hmacHex(key []byte, s string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func TestToCRMConvertsEveryKindOfRule(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", linked())
	got, err := customers.ToCRM(ctx, ada())
	if err != nil {
		t.Fatal(err)
	}
	want := crm.Fields{
		"ExternalId":     "c-1",
		"FirstName":      "Ada",
		"LastName":       "Lovelace",
		"Email":          "ada@example.com",
		"Phone":          "************0958",
		"MobilePhone":    "+447700900123",
		"NationalIdHash": hmacHex(testKey, "QQ123456C"),
		"Status":         "Customer",
		"Interests":      []string{"Software", "Training"},
		"Birthdate":      crm.Date{Year: 1815, Month: time.December, Day: 10},
		"Score":          int64(42),
		"AnnualValue":    crm.MustDecimal("1234.56"),
		"Newsletter":     true,
		"AccountId":      "001A",
		"SignedUpAt":     time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), // 02:30 BST
		"Description":    "Mathematician",
		"LeadSource":     "Web",
		"Title":          "Dear Ada Lovelace",
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b crm.Decimal) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("ToCRM (-want +got):\n%s", diff)
	}
}

func TestFromCRMReadsBack(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", linked())
	rec := crm.Fields{
		"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com",
		"Phone": "+44 20 7946 0958", "MobilePhone": "+447700900123", "NationalIdHash": "ignored", "Status": "Qualified",
		"Interests": []string{"Hardware", "Services"}, "Birthdate": crm.Date{Year: 1815, Month: time.December, Day: 10},
		"Score": int64(7), "AnnualValue": crm.MustDecimal("12.50"), "Newsletter": false, "AccountId": "001A",
		"SignedUpAt": time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), "Description": "Mathematician",
		"ExternalId": "c-1", "LeadSource": "Web", "Title": "Dear Ada",
	}
	got, err := customers.FromCRM(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := crm.Fields{
		"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "mobile": "+447700900123",
		"tier": "trial", "interests": "hardware,services", "birthday": crm.Date{Year: 1815, Month: time.December, Day: 10},
		"score": "7", "lifetime_cents": int64(1250), "newsletter": "N", "company_id": int64(42),
		"signed_up_at": "2026-07-01T13:00:00", "bio": "Mathematician",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromCRM (-want +got):\n%s", diff)
	}
	// What flows one way does not come back: the upsert key, the masked
	// phone, the hash, the constant, the computed title.
	for _, f := range []string{"id", "phone", "national_id", "password_hash"} {
		if got.Has(f) {
			t.Errorf("FromCRM set %s, which flows only to the CRM", f)
		}
	}
}

func TestAbsentAndNullFields(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", linked())
	got, err := customers.ToCRM(ctx, crm.Fields{"email": nil, "tier": nil, "phone": nil, "national_id": nil})
	if err != nil {
		t.Fatal(err)
	}
	// Nulls stay null through conversions and protections; absent fields
	// stay absent; the constant is always set; the computed title, lacking
	// its inputs, is omitted (ErrOmit).
	want := crm.Fields{"Email": nil, "Status": nil, "Phone": nil, "NationalIdHash": nil, "LeadSource": "Web"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ToCRM (-want +got):\n%s", diff)
	}
}

func TestProtectedValuesNeverReachTheOutputOrItsLogs(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", linked())
	in := ada()
	out, err := customers.ToCRM(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("write", "fields", out)
	for _, v := range []any{out, fmt.Sprint(out), fmt.Sprintf("%#v", out), logged.String(), fmt.Sprint(customers.Redact(in))} {
		s := fmt.Sprint(v)
		for _, secret := range []string{"$argon2id$secret", "QQ123456C", "7946"} {
			if strings.Contains(s, secret) {
				t.Errorf("protected value %q reached %q", secret, s)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(out["Phone"]), "0958") {
		t.Errorf("mask kept %q, want the last four characters", out["Phone"])
	}
}

func TestHashIsKeyedAndStable(t *testing.T) {
	build := func(key []byte) *mapping.Map {
		m, err := mapping.New(mapping.ObjectMap{
			Name: "h", App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
				{Name: "email", Kind: crm.ValueString, Personal: true}, {Name: "last", Kind: crm.ValueString}}},
			CRMObject: "Contact",
			Rules: []mapping.Rule{
				{App: "email", CRM: "NationalIdHash", Protect: mapping.Hash(true)},
				{App: "last", CRM: "LastName"},
			},
		}, contactSchema(), mapping.WithHashKey(key))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	other := bytes.Repeat([]byte{7}, 32)
	a, b, c := build(testKey), build(testKey), build(other)
	out := func(m *mapping.Map, email string) any {
		f, err := m.ToCRM(ctx, crm.Fields{"email": email})
		if err != nil {
			t.Fatal(err)
		}
		return f["NationalIdHash"]
	}
	h1 := out(a, "ada@example.com")
	if want := hmacHex(testKey, "ada@example.com"); h1 != want {
		t.Errorf("hash = %v, want HMAC-SHA256 %s", h1, want)
	}
	if h2 := out(b, "  ADA@Example.com "); h2 != h1 {
		t.Errorf("with fold_case, the same address in another case hashed to %v, want %v", h2, h1)
	}
	if h3 := out(c, "ada@example.com"); h3 == h1 {
		t.Error("another key gave the same hash")
	}
	if h4 := out(a, "bob@example.com"); h4 == h1 {
		t.Error("another value gave the same hash")
	}
}

func TestResidencyRefusesAFieldOnANamedConnection(t *testing.T) {
	us, _ := exampleMaps(t, "salesforce-us", linked())
	eu, _ := exampleMaps(t, "salesforce-eu", linked())
	in := crm.Fields{"national_id": "QQ123456C", "last_name": "Lovelace"}
	outUS, err := us.ToCRM(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if outUS.Has("NationalIdHash") {
		t.Errorf("salesforce-us got NationalIdHash = %v; the residency rule refuses it there", outUS["NationalIdHash"])
	}
	outEU, err := eu.ToCRM(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !outEU.Has("NationalIdHash") {
		t.Error("salesforce-eu did not get NationalIdHash, which only salesforce-us refuses")
	}
	if slicesContain(us.AppFields(), "national_id") || !slicesContain(eu.AppFields(), "national_id") {
		t.Errorf("AppFields: us %v, eu %v", us.AppFields(), eu.AppFields())
	}
}

func slicesContain(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestComputedFunctionsDoNotSeeProtectedFields(t *testing.T) {
	var seen crm.Fields
	spy := func(_ context.Context, src crm.Fields) (any, error) {
		seen = src.Clone()
		return "x", nil
	}
	m, err := mapping.New(mapping.ObjectMap{
		Name: "spy", App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "last", Kind: crm.ValueString}, {Name: "ssn", Kind: crm.ValueString, Length: 11}, {Name: "pw", Kind: crm.ValueString}}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{App: "last", CRM: "LastName"},
			{App: "ssn", CRM: "Phone", Protect: mapping.Mask(4)},
			{App: "pw", Protect: mapping.Drop()},
			{CRM: "Title", Convert: mapping.Computed{Name: "spy", Func: spy}},
		},
	}, contactSchema())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ToCRM(ctx, crm.Fields{"last": "L", "ssn": "123-45-6789", "pw": "hunter2"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(crm.Fields{"last": "L"}, seen); diff != "" {
		t.Errorf("the computed function saw (-want +got):\n%s", diff)
	}
}

func TestErrorsListEveryFailedFieldWithoutValues(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", mapping.NewMemoryLinks())
	in := ada()
	in["score"] = "forty-two"
	in["newsletter"] = "perhaps"
	in["lifetime_cents"] = 12.5 // a float is never money
	// company 42 is not linked in this resolver.
	out, err := customers.ToCRM(ctx, in)
	if out != nil {
		t.Errorf("ToCRM returned fields %v with an error", out)
	}
	var re *mapping.RecordError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RecordError", err)
	}
	var rules []string
	for _, f := range re.Fields {
		rules = append(rules, f.Rule)
	}
	want := []string{"rule 12 (score <-> Score)", "rule 13 (lifetime_cents <-> AnnualValue)", "rule 14 (newsletter <-> Newsletter)", "rule 15 (company_id <-> AccountId)"}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("failed rules (-want +got):\n%s", diff)
	}
	if !errors.Is(err, mapping.ErrInvalidValue) || !errors.Is(err, crm.ErrValidation) || !errors.Is(err, mapping.ErrNoLink) {
		t.Errorf("errors.Is: invalid %v, validation %v, no link %v; want all true", errors.Is(err, mapping.ErrInvalidValue), errors.Is(err, crm.ErrValidation), errors.Is(err, mapping.ErrNoLink))
	}
	msg := err.Error()
	for _, v := range []string{"forty-two", "perhaps", "12.5", "42"} {
		if strings.Contains(msg, v) {
			t.Errorf("the error quotes the value %q: %s", v, msg)
		}
	}
	wantMsg := `mapping customers (to_crm): 4 fields failed: rule 12 (score <-> Score) (to_crm): the text is not a whole number that fits in 64 bits; ` +
		`rule 13 (lifetime_cents <-> AnnualValue) (to_crm): a float64 is not accepted for money: pass a crm.Decimal, decimal text or int64 minor units; ` +
		`rule 14 (newsletter <-> Newsletter) (to_crm): the text is not a spelling of true or false (true: "Y"; false: "N"); ` +
		`rule 15 (company_id <-> AccountId) (to_crm): the application company record it points at is not linked yet: sync that record first: mapping: no link for the referenced record`
	if msg != wantMsg {
		t.Errorf("error:\n got %s\nwant %s", msg, wantMsg)
	}
}

func TestCustomErrorsOfPersonalFieldsAreWithheld(t *testing.T) {
	leaky := mapping.Func{Name: "leaky", To: func(_ context.Context, v any) (any, error) {
		return nil, fmt.Errorf("cannot parse %q", v) // a careless message that quotes the value
	}}
	m, err := mapping.New(mapping.ObjectMap{
		Name: "w", App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
			{Name: "email", Kind: crm.ValueString, Personal: true}, {Name: "title", Kind: crm.ValueString}}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{CRM: "LastName", Convert: mapping.Constant{Value: "(none)"}},
			{App: "email", CRM: "Email", Dir: mapping.ToCRM, Convert: leaky},
			{App: "title", CRM: "Title", Dir: mapping.ToCRM, Convert: leaky},
		},
	}, contactSchema())
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.ToCRM(ctx, crm.Fields{"email": "ada@example.com", "title": "Countess"})
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "ada@example.com") {
		t.Errorf("the personal value leaked: %v", err)
	}
	if !strings.Contains(err.Error(), "Countess") {
		t.Errorf("the message of a field that is not personal was withheld too: %v", err)
	}
	var fe *mapping.FieldError
	if !errors.As(err, &fe) || !strings.Contains(errors.Unwrap(fe).Error(), "ada@example.com") {
		t.Errorf("the cause is not reachable through errors.Unwrap: %v", err)
	}
}

func TestTruncationWarnsWithoutTheValue(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	customers, _ := exampleMaps(t, "salesforce-eu", linked(), mapping.WithLogger(logger))
	// Without a truncate, text longer than the CRM field fails the field.
	long := strings.Repeat("Adé ", 20)
	_, err := customers.ToCRM(ctx, crm.Fields{"first_name": long, "last_name": "Lovelace"})
	want := "mapping customers (to_crm): 1 field failed: rule 2 (first_name <-> FirstName) (to_crm): the text is 80 characters, more than the 40 Contact.FirstName holds: shorten it, or add a truncate conversion"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	// Through a truncate, text is cut, with a warning that holds no value.
	m, err := mapping.New(mapping.ObjectMap{
		Name: "t", App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{{Name: "bio", Kind: crm.ValueString}}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{CRM: "LastName", Convert: mapping.Constant{Value: "(none)"}},
			{App: "bio", CRM: "Title", Convert: mapping.Truncate{}},
		},
	}, contactSchema(), mapping.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.ToCRM(ctx, crm.Fields{"bio": strings.Repeat("é", 200)})
	if err != nil {
		t.Fatal(err)
	}
	if title := out["Title"].(string); title != strings.Repeat("é", 128) {
		t.Errorf("Title = %q (%d characters), want 128 characters", title, len([]rune(title)))
	}
	if !strings.Contains(logs.String(), `level=WARN msg="mapping: value changed on its way" map=t rule="rule 2 (bio <-> Title)" dir=to_crm warning="truncated text of 200 characters to the 128 Contact.Title holds"`) ||
		strings.Contains(logs.String(), "é") {
		t.Errorf("warning log = %s", logs.String())
	}
}

func TestOverflowErrorFailsTheField(t *testing.T) {
	m, err := mapping.New(mapping.ObjectMap{
		Name: "t", App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{{Name: "bio", Kind: crm.ValueString}}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{CRM: "LastName", Convert: mapping.Constant{Value: "(none)"}},
			{App: "bio", CRM: "Title", Convert: mapping.Truncate{Overflow: mapping.OverflowError}},
		},
	}, contactSchema())
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.ToCRM(ctx, crm.Fields{"bio": strings.Repeat("x", 129)})
	want := "mapping t (to_crm): 1 field failed: rule 2 (bio <-> Title) (to_crm): the text is 129 characters, more than the 128 Contact.Title holds: shorten it, or set overflow to warn to truncate it"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestReferencesResolveThroughLinks(t *testing.T) {
	links := linked()
	customers, _ := exampleMaps(t, "salesforce-eu", links)
	out, err := customers.ToCRM(ctx, crm.Fields{"company_id": int64(42)})
	if err != nil || out["AccountId"] != "001A" {
		t.Fatalf("ToCRM = %v, %v", out, err)
	}
	back, err := customers.FromCRM(ctx, crm.Fields{"AccountId": "001A"})
	if err != nil || back["company_id"] != int64(42) {
		t.Fatalf("FromCRM = %v, %v", back, err)
	}
	_, err = customers.FromCRM(ctx, crm.Fields{"AccountId": "001Z"})
	if !errors.Is(err, mapping.ErrNoLink) || errors.Is(err, crm.ErrValidation) {
		t.Errorf("an unlinked id: err = %v; want ErrNoLink and not a validation failure", err)
	}
	// A relink replaces the old pairing in both directions.
	links.Link(companyRef, "42", "001B")
	if _, err := links.AppID(ctx, companyRef, "001A"); !errors.Is(err, mapping.ErrNoLink) {
		t.Errorf("the old CRM id still resolves after a relink: %v", err)
	}
}

func TestNullIfMissingReference(t *testing.T) {
	m, err := mapping.New(mapping.ObjectMap{
		Name: "r", App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{{Name: "company", Kind: crm.ValueString}}},
		CRMObject: "Contact",
		Rules: []mapping.Rule{
			{CRM: "LastName", Convert: mapping.Constant{Value: "(none)"}},
			{App: "company", CRM: "AccountId", Convert: mapping.Reference{AppObject: "company", NullIfMissing: true}},
		},
	}, contactSchema(), mapping.WithLinks(mapping.NewMemoryLinks()))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.ToCRM(ctx, crm.Fields{"company": "c-9"})
	if err != nil || !out.Has("AccountId") || out["AccountId"] != nil {
		t.Errorf("ToCRM = %v, %v; want AccountId set to null", out, err)
	}
}

func TestCancelledContext(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", linked())
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := customers.ToCRM(cctx, ada()); !errors.Is(err, context.Canceled) {
		t.Errorf("ToCRM with a cancelled context: %v", err)
	}
	if _, err := linked().CRMID(cctx, companyRef, "42"); !errors.Is(err, context.Canceled) {
		t.Errorf("MemoryLinks with a cancelled context: %v", err)
	}
}

func TestRedact(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", linked())
	got := customers.Redact(crm.Fields{"email": "ada@example.com", "phone": "+44 20 7946 0958", "password_hash": "x", "national_id": "QQ1", "tier": "gold", "extra": 1})
	want := crm.Fields{"email": "[personal]", "phone": "************0958", "national_id": hmacHex(testKey, "QQ1"), "tier": "gold", "extra": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Redact (-want +got):\n%s", diff)
	}
}

func TestMapsAreSafeForConcurrentUse(t *testing.T) {
	customers, _ := exampleMaps(t, "salesforce-eu", linked())
	want, err := customers.ToCRM(ctx, ada())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, err := customers.ToCRM(ctx, ada())
				if err != nil || got["NationalIdHash"] != want["NationalIdHash"] {
					t.Errorf("concurrent ToCRM = %v, %v", got["NationalIdHash"], err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewKeepsItsOwnCopy(t *testing.T) {
	om := mapping.ObjectMap{
		Name: "c", App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{{Name: "last", Kind: crm.ValueString}}},
		CRMObject: "Contact", Rules: []mapping.Rule{{App: "last", CRM: "LastName"}},
	}
	m, err := mapping.New(om, contactSchema())
	if err != nil {
		t.Fatal(err)
	}
	om.Rules[0].CRM = "Email"
	out, _ := m.ToCRM(ctx, crm.Fields{"last": "L"})
	if !out.Has("LastName") {
		t.Errorf("changing the declaration after New changed the map: %v", out)
	}
}

func TestBuildDescribesThroughAClient(t *testing.T) {
	drv, err := memcrm.New()
	if err != nil {
		t.Fatal(err)
	}
	client, err := crm.NewClient(drv)
	if err != nil {
		t.Fatal(err)
	}
	good := mapping.ObjectMap{
		Name: "people", App: mapping.AppSchema{Object: "person", Fields: []mapping.AppField{{Name: "name", Kind: crm.ValueString, Length: 80}}},
		CRMObject: "Contact", Rules: []mapping.Rule{{App: "name", CRM: "LastName"}},
	}
	maps, err := mapping.Build(ctx, client, []mapping.ObjectMap{good})
	if err != nil || len(maps) != 1 || maps[0].CRMObject() != "Contact" {
		t.Fatalf("Build = %v, %v", maps, err)
	}
	rec, err := maps[0].ToCRM(ctx, crm.Fields{"name": "Hopper"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := client.Create(ctx, maps[0].CRMObject(), rec)
	if err != nil {
		t.Fatalf("the CRM refused the mapped record: %v", err)
	}
	got, err := client.Get(ctx, "Contact", id, maps[0].CRMFields()...)
	if err != nil {
		t.Fatal(err)
	}
	back, err := maps[0].FromCRM(ctx, got.Fields)
	if err != nil || back["name"] != "Hopper" {
		t.Errorf("round trip through the CRM = %v, %v", back, err)
	}

	// Problems of several maps come back together.
	bad := good
	bad.Name, bad.Rules = "typo", []mapping.Rule{{App: "name", CRM: "LastNam"}}
	gone := good
	gone.Name, gone.CRMObject = "gone", "Lead"
	_, err = mapping.Build(ctx, client, []mapping.ObjectMap{good, bad, gone})
	want := `mapping: 3 problems:
  - map typo, rule 1 (name <-> LastNam): CRM object Contact has no field "LastNam"; fix: correct the name (did you mean "LastName"?), or create the field in the CRM; Describe("Contact") lists its fields
  - map typo, CRM field LastName: CRM field Contact.LastName is required on create, but no rule writes it; fix: map an application field to it, or give it a constant ({"crm": "LastName", "dir": "to_crm", "convert": {"type": "constant", "value": ...}})
  - map gone: the CRM has no object "Lead"; fix: correct crm_object, or create the object in the CRM`
	if err == nil || err.Error() != want {
		t.Errorf("Build:\n%v\nwant:\n%s", err, want)
	}
}
