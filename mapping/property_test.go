package mapping_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/mapping"
)

var quickSeed = flag.Int64("quick.seed", 20261127, "seed of the property tests' generators")

// quickConfig runs each property on 1,000 generated inputs from a fixed
// seed, so that a failure can be reproduced; change the seed with
// -quick.seed to explore further.
func quickConfig(t *testing.T) *quick.Config {
	t.Logf("quick seed %d", *quickSeed)
	return &quick.Config{MaxCount: 1000, Rand: rand.New(rand.NewSource(*quickSeed))}
}

func check(t *testing.T, property any) {
	t.Helper()
	if err := quick.Check(property, quickConfig(t)); err != nil {
		t.Error(err)
	}
}

// zones spans the world's offsets and its odd rules: +14 and -11 (a day
// apart), half- and quarter-hour offsets, half-hour daylight saving, DST
// that starts at midnight (Havana), a skipped day (Apia), and UTC.
var zones = []string{
	"Pacific/Kiritimati", "Pacific/Pago_Pago", "America/St_Johns", "Asia/Kathmandu", "Europe/London",
	"Australia/Lord_Howe", "Pacific/Chatham", "Asia/Tehran", "America/Havana", "Pacific/Apia",
	"America/Los_Angeles", "Asia/Tokyo", "Africa/Casablanca", "America/Sao_Paulo", "UTC",
}

// single builds a map of one rule between an application field and a CRM
// field of its own object, so that each conversion is tested bound to real
// field descriptions, as New binds it.
func single(t testing.TB, app mapping.AppField, f crm.Field, conv mapping.Conversion, opts ...mapping.Option) *mapping.Map {
	t.Helper()
	f.Createable, f.Updateable, f.Nillable = true, true, true
	app.Name, f.Name = "a", "C"
	opts = append([]mapping.Option{mapping.WithLogger(quiet)}, opts...)
	m, err := mapping.New(mapping.ObjectMap{
		Name: "p", App: mapping.AppSchema{Object: "app", Fields: []mapping.AppField{app}},
		CRMObject: "T", Rules: []mapping.Rule{{App: "a", CRM: "C", Convert: conv}},
	}, &crm.Schema{Object: "T", Fields: []crm.Field{f}}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func to(m *mapping.Map, v any) (any, error) {
	out, err := m.ToCRM(context.Background(), crm.Fields{"a": v})
	return out["C"], err
}

func from(m *mapping.Map, v any) (any, error) {
	out, err := m.FromCRM(context.Background(), crm.Fields{"C": v})
	return out["a"], err
}

// roundTrips reports whether v goes to the CRM and back unchanged.
func roundTrips(t *testing.T, m *mapping.Map, v any) bool {
	t.Helper()
	c, err := to(m, v)
	if err != nil {
		t.Logf("ToCRM(%#v): %v", v, err)
		return false
	}
	back, err := from(m, c)
	if err != nil {
		t.Logf("FromCRM(%#v): %v", c, err)
		return false
	}
	if !crm.EqualValues(v, back) {
		t.Logf("%#v -> %#v -> %#v", v, c, back)
		return false
	}
	return true
}

// roundTripsBack reports whether a CRM value comes to the application and
// goes back unchanged.
func roundTripsBack(t *testing.T, m *mapping.Map, c any) bool {
	t.Helper()
	a, err := from(m, c)
	if err != nil {
		t.Logf("FromCRM(%#v): %v", c, err)
		return false
	}
	back, err := to(m, a)
	if err != nil {
		t.Logf("ToCRM(%#v): %v", a, err)
		return false
	}
	if !crm.EqualValues(c, back) {
		t.Logf("%#v -> %#v -> %#v", c, a, back)
		return false
	}
	return true
}

// quiet discards the warnings of truncations the properties make on purpose.
var quiet = slog.New(slog.DiscardHandler)

var (
	text     = mapping.AppField{Kind: crm.ValueString}
	integer  = mapping.AppField{Kind: crm.ValueInt64}
	decimal  = mapping.AppField{Kind: crm.ValueDecimal}
	boolean  = mapping.AppField{Kind: crm.ValueBool}
	date     = mapping.AppField{Kind: crm.ValueDate}
	datetime = mapping.AppField{Kind: crm.ValueTime}
	list     = mapping.AppField{Kind: crm.ValueStrings}
)

// word makes a short picklist-like token from a number.
func word(prefix string, n int) string { return prefix + strconv.Itoa(n) }

func TestPropertyPicklistRoundTrips(t *testing.T) {
	check(t, func(seed int64, size uint8, pick uint8) bool {
		n := int(size%30) + 1
		r := rand.New(rand.NewSource(seed))
		values := map[string]string{}
		var apps, crms []string
		for i, j := range r.Perm(n) {
			a, c := word("app-", i), word("CRM_", j)
			values[a] = c
			apps, crms = append(apps, a), append(crms, c)
		}
		f := crm.Field{Type: crm.TypePicklist}
		for _, c := range crms {
			f.Picklist = append(f.Picklist, crm.PicklistValue{Value: c, Label: c, Active: true})
		}
		m := single(t, text, f, mapping.Picklist{Values: values})
		i := int(pick) % n
		return roundTrips(t, m, apps[i]) && roundTripsBack(t, m, crms[i])
	})
}

func TestPropertyMultiSelectRoundTrips(t *testing.T) {
	tokens := []string{"Software", "Hardware", "Services", "Training", "Support", "Ops"}
	f := crm.Field{Type: crm.TypeMultiPicklist}
	for _, tok := range tokens {
		f.Picklist = append(f.Picklist, crm.PicklistValue{Value: tok, Active: true})
	}
	joined := single(t, text, f, mapping.MultiSelect{Separator: ","})
	asList := single(t, list, f, mapping.MultiSelect{})
	check(t, func(mask uint8, rot uint8) bool {
		var elems []string
		for i, tok := range tokens {
			if mask&(1<<i) != 0 {
				elems = append(elems, tokens[(i+int(rot))%len(tokens)])
				_ = tok
			}
		}
		if elems == nil {
			elems = []string{}
		}
		return roundTrips(t, joined, strings.Join(elems, ",")) && roundTrips(t, asList, elems) &&
			roundTripsBack(t, joined, elems) && roundTripsBack(t, asList, elems)
	})
}

func TestPropertyTruncateFitsAndKeepsWhatFits(t *testing.T) {
	const length = 16
	m := single(t, text, crm.Field{Type: crm.TypeString, Length: length}, mapping.Truncate{})
	check(t, func(s string) bool {
		s = strings.ToValidUTF8(s, "?")
		out, err := to(m, s)
		if err != nil {
			t.Logf("ToCRM: %v", err)
			return false
		}
		cut := out.(string)
		if utf8.RuneCountInString(cut) > length || !strings.HasPrefix(s, cut) || !utf8.ValidString(cut) {
			t.Logf("%q cut to %q", s, cut)
			return false
		}
		if utf8.RuneCountInString(s) <= length {
			return cut == s && roundTrips(t, m, s)
		}
		return utf8.RuneCountInString(cut) == length
	})
}

// randomInstant is an instant between 1700 and 2300, to the nanosecond.
func randomInstant(sec int64, nsec uint32) time.Time {
	lo := time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	s := lo + (sec%(hi-lo)+(hi-lo))%(hi-lo)
	return time.Unix(s, int64(nsec%1e9)).UTC()
}

func randomDate(days int32) crm.Date {
	return crm.DateOf(randomInstant(int64(days)*86400, 0))
}

// zonePair picks two zones of the list.
func zonePair(i, j uint8) (app, crmZone string) {
	return zones[int(i)%len(zones)], zones[int(j)%len(zones)]
}

func load(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// existsIn is an oracle independent of the code under test: a date exists
// in a zone when some time of that day falls on it there.
func existsIn(d crm.Date, loc *time.Location) bool {
	for h := range 24 {
		for _, min := range []int{0, 30, 45} {
			t := time.Date(d.Year, d.Month, d.Day, h, min, 0, 0, loc)
			if crm.DateOf(t) == d {
				return true
			}
		}
	}
	return false
}

// dateMaps holds, for one pair of zones, a map for each way a date can
// meet the CRM.
type dateMaps struct {
	app, crm                     *time.Location
	dateDate, dateTime, timeDate *mapping.Map
}

func allZonePairs(t *testing.T) []dateMaps {
	var out []dateMaps
	for _, a := range zones {
		for _, c := range zones {
			conv := mapping.DateTime{AppZone: a, CRMZone: c}
			out = append(out, dateMaps{
				app: load(t, a), crm: load(t, c),
				dateDate: single(t, date, crm.Field{Type: crm.TypeDate}, conv),
				dateTime: single(t, date, crm.Field{Type: crm.TypeDateTime}, conv),
				timeDate: single(t, datetime, crm.Field{Type: crm.TypeDate}, conv),
			})
		}
	}
	return out
}

// dateStays checks one date against one pair of zones.
func dateStays(t *testing.T, pm dateMaps, d crm.Date) bool {
	t.Helper()
	// A date stays the same date.
	if got, err := to(pm.dateDate, d); err != nil || got != d || !roundTripsBack(t, pm.dateDate, d) {
		t.Logf("date %s became %v (%v) from %s to %s", d, got, err, pm.app, pm.crm)
		return false
	}

	// A date the CRM holds as a date-time is midnight in the CRM's zone and
	// reads back as the same date. A date the CRM's zone skipped is refused,
	// never moved to the next day.
	got, err := to(pm.dateTime, d)
	switch {
	case !existsIn(d, pm.crm):
		if err == nil {
			t.Logf("date %s, which %s skipped, became %v", d, pm.crm, got)
			return false
		}
	case err != nil || crm.DateOf(got.(time.Time).In(pm.crm)) != d || !roundTrips(t, pm.dateTime, d):
		t.Logf("date %s to a date-time in %s: %v, %v", d, pm.crm, got, err)
		return false
	}

	// A CRM date read into an application date-time is midnight in the
	// application's zone, and goes back as the same date.
	back, err := from(pm.timeDate, d)
	switch {
	case !existsIn(d, pm.app):
		if err == nil {
			t.Logf("CRM date %s, which %s skipped, became %v", d, pm.app, back)
			return false
		}
	case err != nil || crm.DateOf(back.(time.Time).In(pm.app)) != d || !roundTripsBack(t, pm.timeDate, d):
		t.Logf("CRM date %s to an application date-time in %s: %v, %v", d, pm.app, back, err)
		return false
	}
	return true
}

func TestPropertyDatesNeverShiftForAnyPairOfZones(t *testing.T) {
	pairs := allZonePairs(t)
	check(t, func(days int32) bool {
		d := randomDate(days)
		for _, pm := range pairs {
			if !dateStays(t, pm, d) {
				return false
			}
		}
		return true
	})
}

// TestDatesOnTheZonesEdges checks, for every pair of zones, the dates where
// zones misbehave: the day Samoa skipped, the days Havana's clocks jump at
// midnight, the days around the date line and the turn of the year.
func TestDatesOnTheZonesEdges(t *testing.T) {
	pairs := allZonePairs(t)
	edges := []crm.Date{
		{Year: 2011, Month: 12, Day: 29}, {Year: 2011, Month: 12, Day: 30}, {Year: 2011, Month: 12, Day: 31},
		{Year: 2013, Month: 3, Day: 10}, {Year: 2013, Month: 11, Day: 3}, {Year: 2024, Month: 3, Day: 10},
		{Year: 1994, Month: 12, Day: 31}, {Year: 1995, Month: 1, Day: 1}, {Year: 2000, Month: 2, Day: 29},
		{Year: 2026, Month: 3, Day: 29}, {Year: 2026, Month: 10, Day: 25}, {Year: 1900, Month: 1, Day: 1},
	}
	skipped := 0
	for _, d := range edges {
		for _, pm := range pairs {
			if !existsIn(d, pm.crm) {
				skipped++
			}
			if !dateStays(t, pm, d) {
				t.Errorf("date %s shifted between %s and %s", d, pm.app, pm.crm)
			}
		}
	}
	if skipped == 0 {
		t.Error("no edge date was skipped by any zone: the list no longer tests skipped days")
	}
}

func TestPropertyInstantsRoundTripAcrossZones(t *testing.T) {
	check(t, func(sec int64, nsec uint32, i, j uint8) bool {
		ts := randomInstant(sec, nsec)
		a, c := zonePair(i, j)
		m := single(t, datetime, crm.Field{Type: crm.TypeDateTime}, mapping.DateTime{AppZone: a, CRMZone: c})
		out, err := to(m, ts.In(load(t, c)))
		if err != nil || out.(time.Time).Location() != time.UTC || !out.(time.Time).Equal(ts) {
			t.Logf("%v to the CRM: %v, %v", ts, out, err)
			return false
		}
		back, err := from(m, out)
		if err != nil || !back.(time.Time).Equal(ts) || back.(time.Time).Location().String() != a {
			t.Logf("%v back from the CRM: %v, %v", out, back, err)
			return false
		}
		return true
	})
}

func TestPropertyWallClocksRoundTrip(t *testing.T) {
	check(t, func(sec int64, nsec uint32, i uint8) bool {
		ts := randomInstant(sec, nsec)
		a := zones[int(i)%len(zones)]
		m := single(t, text, crm.Field{Type: crm.TypeDateTime}, mapping.DateTime{AppZone: a})
		wall, err := from(m, ts)
		if err != nil {
			t.Logf("%v: %v", ts, err)
			return false
		}
		// The wall clock in the application's zone goes to the CRM and back
		// as the same text. The instant comes back too, except in the hour
		// the clocks go back, whose wall clocks name two instants.
		inst, err := to(m, wall)
		if err != nil {
			t.Logf("%q: %v", wall, err)
			return false
		}
		again, _ := from(m, inst)
		if again != wall {
			t.Logf("%v -> %q -> %v -> %q", ts, wall, inst, again)
			return false
		}
		loc := load(t, a)
		_, off1 := ts.Add(-3 * time.Hour).In(loc).Zone()
		_, off2 := ts.Add(3 * time.Hour).In(loc).Zone()
		return off1 != off2 || inst.(time.Time).Equal(ts)
	})
}

// randomDecimal is a decimal with up to 30 digits and a scale of 0 to 6.
func randomDecimal(hi, lo int64, scale uint8) crm.Decimal {
	n := new(big.Int).Mul(big.NewInt(hi), new(big.Int).Lsh(big.NewInt(1), 40))
	n.Add(n, big.NewInt(lo))
	return crm.MustDecimal(fmt.Sprintf("%se-%d", n.String(), scale%7))
}

func TestPropertyNumbersRoundTrip(t *testing.T) {
	intText := single(t, text, crm.Field{Type: crm.TypeInt}, mapping.Number{})
	textInt := single(t, integer, crm.Field{Type: crm.TypeString}, mapping.Number{})
	decText := single(t, text, crm.Field{Type: crm.TypeDecimal}, mapping.Number{})
	textDec := single(t, decimal, crm.Field{Type: crm.TypeText}, mapping.Number{})
	intDec := single(t, integer, crm.Field{Type: crm.TypeDecimal}, mapping.Number{})
	check(t, func(n, hi, lo int64, scale uint8) bool {
		d := randomDecimal(hi, lo, scale)
		return roundTrips(t, intText, strconv.FormatInt(n, 10)) && roundTripsBack(t, intText, n) &&
			roundTrips(t, textInt, n) &&
			roundTrips(t, decText, d.String()) && roundTripsBack(t, decText, d) &&
			roundTrips(t, textDec, d) &&
			roundTrips(t, intDec, n)
	})
}

func TestPropertyCurrencyIsExact(t *testing.T) {
	money := crm.Field{Type: crm.TypeCurrency, Precision: 18, Scale: 2}
	cents := single(t, integer, money, mapping.Currency{MinorUnits: 2})
	decimals := single(t, decimal, money, mapping.Currency{})
	texts := single(t, text, money, mapping.Currency{})
	check(t, func(n int64, scale uint8) bool {
		n %= 1_000_000_000_000_000 // within 16 whole digits
		d := crm.NewDecimal(n, int32(scale%3))
		out, err := to(cents, n)
		if err != nil || out.(crm.Decimal).String() != crm.NewDecimal(n, 2).String() {
			t.Logf("%d cents: %v, %v", n, out, err)
			return false
		}
		return roundTrips(t, cents, n) && roundTripsBack(t, cents, crm.NewDecimal(n, 2)) &&
			roundTrips(t, decimals, d) && roundTrips(t, texts, d.String())
	})
}

func TestPropertyBoolsRoundTrip(t *testing.T) {
	yn := single(t, text, crm.Field{Type: crm.TypeBool}, mapping.Bool{True: []string{"Y"}, False: []string{"N"}})
	picklist := single(t, boolean, crm.Field{Type: crm.TypeString}, mapping.Bool{True: []string{"Yes"}, False: []string{"No"}})
	bit := single(t, integer, crm.Field{Type: crm.TypeBool}, mapping.Bool{})
	check(t, func(b bool) bool {
		spelled, bitv := "N", int64(0)
		if b {
			spelled, bitv = "Y", 1
		}
		return roundTrips(t, yn, spelled) && roundTripsBack(t, yn, b) &&
			roundTrips(t, picklist, b) && roundTrips(t, bit, bitv) && roundTripsBack(t, bit, b)
	})
}

func TestPropertyReferencesRoundTrip(t *testing.T) {
	links := mapping.NewMemoryLinks()
	ref := mapping.Ref{AppObject: "company", CRMObject: "Account"}
	f := crm.Field{Type: crm.TypeReference, References: []string{"Account"}}
	byText := single(t, text, f, mapping.Reference{AppObject: "company"}, mapping.WithLinks(links))
	byInt := single(t, integer, f, mapping.Reference{AppObject: "company"}, mapping.WithLinks(links))
	check(t, func(n int64) bool {
		appID, crmID := strconv.FormatInt(n, 10), "001"+strconv.FormatUint(uint64(n), 36)
		links.Link(ref, appID, crmID)
		return roundTrips(t, byText, appID) && roundTrips(t, byInt, n) && roundTripsBack(t, byText, crmID)
	})
}

func TestPropertyChainRoundTrips(t *testing.T) {
	m := single(t, integer, crm.Field{Type: crm.TypeString, Length: 20}, mapping.Chain{mapping.Number{}, mapping.Truncate{}})
	check(t, func(n int64) bool { return roundTrips(t, m, n) })
}

func TestPropertyProtections(t *testing.T) {
	f := crm.Field{Type: crm.TypeString, Length: 255}
	app := mapping.AppField{Kind: crm.ValueString, Length: 255}
	mk := func(p mapping.Protection) *mapping.Map {
		t.Helper()
		f.Createable, f.Updateable = true, true
		m, err := mapping.New(mapping.ObjectMap{
			Name: "p", App: mapping.AppSchema{Object: "app", Fields: []mapping.AppField{{Name: "a", Kind: app.Kind, Length: 255}}},
			CRMObject: "T", Rules: []mapping.Rule{{App: "a", CRM: "C", Protect: p}},
		}, &crm.Schema{Object: "T", Fields: []crm.Field{func() crm.Field { g := f; g.Name = "C"; return g }()}}, mapping.WithHashKey(testKey))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	hash, mask := mk(mapping.Hash(false)), mk(mapping.Mask(4))
	check(t, func(s string) bool {
		s = strings.ToValidUTF8(s, "?")
		if utf8.RuneCountInString(s) > 255 {
			s = string([]rune(s)[:255])
		}
		h1, err1 := to(hash, s)
		h2, err2 := to(hash, s)
		if err1 != nil || err2 != nil || h1 != h2 || h1 != hmacHex(testKey, s) {
			t.Logf("hash of %q: %v %v (%v, %v)", s, h1, h2, err1, err2)
			return false
		}
		out, err := to(mask, s)
		if err != nil {
			return false
		}
		masked, runes := []rune(out.(string)), []rune(s)
		if len(masked) != len(runes) {
			return false
		}
		keep := 0
		if len(runes) > 8 {
			keep = 4
		}
		for i := range runes {
			want := '*'
			if i >= len(runes)-keep {
				want = runes[i]
			}
			if masked[i] != want {
				t.Logf("mask of %q = %q", s, string(masked))
				return false
			}
		}
		return true
	})
}
