package crm

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below exist on any machine, tzdata package or not
)

func TestDateNeverShiftsADay(t *testing.T) {
	d := MustDate(t, "2026-03-29") // a DST change in Europe
	for _, zone := range []string{"Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Berlin", "America/Los_Angeles", "UTC"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := DateOf(d.In(loc)); got != d {
			t.Errorf("DateOf(d.In(%s)) = %s, want %s", zone, got, d)
		}
	}
	if got, _ := NormalizeValue(TypeDate, "2026-03-29T00:00:00.000+0000"); got != d {
		t.Errorf("a date sent as midnight normalised to %v, want %s", got, d)
	}
}

func TestDateOrdering(t *testing.T) {
	a, b := MustDate(t, "2026-02-28"), MustDate(t, "2026-03-01")
	if !a.Before(b) || !b.After(a) || a.Compare(a) != 0 {
		t.Fatal("date ordering is wrong")
	}
	if a.AddDays(1) != b {
		t.Fatalf("2026-02-28 + 1 day = %s", a.AddDays(1))
	}
	if _, err := ParseDate("2026-02-30"); err == nil {
		t.Fatal("2026-02-30 parsed")
	}
}

func MustDate(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
