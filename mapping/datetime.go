package mapping

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// DateTime converts dates and date-times between the application's time zone
// and the CRM's. AppZone and CRMZone are IANA names ("Europe/London",
// "Pacific/Kiritimati"); empty means UTC. The CRM zone is the org's default
// zone, where its date-only fields begin and end.
//
// The rule is that each side's wall clocks are read and written in that
// side's own zone, and a date only ever meets a date-time at midnight in the
// zone of the side that holds the date-time (or at the first instant of the
// day, where the clocks jump forward at midnight). So a date-only value never
// shifts a day, for any pair of zones:
//
//	application        CRM            to the CRM                       back
//	date-time          date-time      the same instant, in UTC         the instant, in AppZone
//	date               date           the same date                    the same date
//	date               date-time      the start of the date in CRMZone the date in CRMZone
//	date-time          date           the date in AppZone              midnight in AppZone
//	text (wall clock)  date-time      the wall clock read in AppZone   the wall clock in AppZone
//	text (YYYY-MM-DD)  date           the date                         the date as text
//
// Wall-clock text is "2006-01-02T15:04:05" with optional fractions of a
// second (a space may replace the T); text with an offset or Z is taken as
// that instant. A wall clock that does not exist in AppZone (skipped when
// the clocks went forward) is an error rather than a silent shift of an hour.
// The load of a zone needs the system's zone database, or an import of
// time/tzdata in the program.
type DateTime struct {
	AppZone string // the application's zone; "" means UTC
	CRMZone string // the CRM org's zone; "" means UTC
}

// ToCRM converts v as its Go type suggests: time.Time to a UTC instant,
// crm.Date unchanged, text as a wall clock in AppZone. [New] binds it to the
// fields' kinds, which also covers dates meeting date-times.
func (d DateTime) ToCRM(ctx context.Context, v any) (any, error) {
	bd, err := d.unbound(crm.ValueKindOf(v), crm.ValueTime)
	if err != nil {
		return nil, err
	}
	if crm.ValueKindOf(v) == crm.ValueDate {
		bd.crmKind = crm.ValueDate
	}
	return bd.ToCRM(ctx, v)
}

// FromCRM converts a time.Time to AppZone and passes a crm.Date unchanged.
func (d DateTime) FromCRM(ctx context.Context, v any) (any, error) {
	bd, err := d.unbound(crm.ValueKindOf(v), crm.ValueKindOf(v))
	if err != nil {
		return nil, err
	}
	return bd.FromCRM(ctx, v)
}

func (d DateTime) unbound(app, crmKind crm.ValueKind) (*dateTime, error) {
	app0, crm0, err := d.zones()
	if err != nil {
		return nil, invalidf("%v", err)
	}
	return &dateTime{spec: d, app: app0, crm: crm0, appKind: app, crmKind: crmKind}, nil
}

func (d DateTime) zones() (app, crmLoc *time.Location, err error) {
	if app, err = loadZone(d.AppZone); err != nil {
		return nil, nil, err
	}
	if crmLoc, err = loadZone(d.CRMZone); err != nil {
		return nil, nil, err
	}
	return app, crmLoc, nil
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("%q is not an IANA time zone this program knows", clip(name))
	}
	return loc, nil
}

func (d DateTime) String() string {
	return fmt.Sprintf("date-time (application zone %s, CRM zone %s)", zoneName(d.AppZone), zoneName(d.CRMZone))
}

func zoneName(z string) string {
	if z == "" {
		return "UTC"
	}
	return z
}

// Bind loads the zones and picks the conversion for the fields' kinds.
func (d DateTime) Bind(b Binding) (Conversion, error) {
	var probs []error
	for _, z := range []struct{ key, name string }{{"app_zone", d.AppZone}, {"crm_zone", d.CRMZone}} {
		if _, err := loadZone(z.name); err != nil {
			probs = append(probs, b.Problem(CodeConversion, fmt.Sprintf("%s %v", z.key, err),
				"use an IANA zone name such as Europe/London or America/New_York (and import time/tzdata if the host has no zone database)"))
		}
	}
	if len(probs) > 0 {
		return nil, joinProblems(probs)
	}
	app, crmLoc, _ := d.zones()
	bd := &dateTime{spec: d, app: app, crm: crmLoc, appKind: b.appKind(), crmKind: b.crmKind()}
	if !b.schemaKnown() {
		return bd, nil
	}
	ok := false
	switch bd.appKind {
	case crm.ValueTime, crm.ValueDate, crm.ValueString:
		ok = bd.crmKind == crm.ValueTime || bd.crmKind == crm.ValueDate
	}
	if !ok {
		return nil, b.mismatch("datetime", "a date-time, a date or text on the application side and a date-time or a date on the CRM side")
	}
	return bd, nil
}

// dateTime is a bound DateTime.
type dateTime struct {
	spec             DateTime
	app, crm         *time.Location
	appKind, crmKind crm.ValueKind
}

// Wall-clock text layouts. Parsing accepts fractions of a second after the
// seconds even though the layouts do not show them.
const (
	wallLayout    = "2006-01-02T15:04:05"
	wallLayoutSp  = "2006-01-02 15:04:05"
	wallLayoutOut = "2006-01-02T15:04:05.999999999"
	dateLayout    = "2006-01-02"
)

func (d *dateTime) ToCRM(_ context.Context, v any) (any, error) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		if d.crmKind == crm.ValueDate {
			return crm.DateOf(x.In(d.app)), nil
		}
		return x.UTC(), nil
	case crm.Date:
		if d.crmKind == crm.ValueTime {
			t, err := midnight(x, d.crm)
			if err != nil {
				return nil, err
			}
			return t.UTC(), nil
		}
		return x, nil
	case string:
		if d.crmKind == crm.ValueDate {
			date, err := crm.ParseDate(x)
			if err != nil {
				return nil, invalidf("the text is not a date: want YYYY-MM-DD, e.g. 2026-11-27")
			}
			return date, nil
		}
		var err error
		if t, err = d.parseWall(x); err != nil {
			return nil, err
		}
		return t.UTC(), nil
	}
	return nil, invalidf("a date-time conversion takes a time.Time, a crm.Date or text, not a %T", v)
}

func (d *dateTime) FromCRM(_ context.Context, v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		switch d.appKind {
		case crm.ValueDate:
			return crm.DateOf(x.In(d.crm)), nil
		case crm.ValueString:
			return x.In(d.app).Format(wallLayoutOut), nil
		}
		return x.In(d.app), nil
	case crm.Date:
		switch d.appKind {
		case crm.ValueTime:
			return midnight(x, d.app)
		case crm.ValueString:
			return x.String(), nil
		}
		return x, nil
	}
	return nil, invalidf("a date-time conversion reads a time.Time or a crm.Date, not a %T", v)
}

// midnight returns the first instant of the date in loc: midnight, or, where
// the clocks jump forward at midnight (Havana, Santiago), the moment they
// land. A date that the zone skipped entirely (Samoa went from 29 to 31
// December 2011) has no start there, and is an error rather than a shift to
// the next day.
func midnight(d crm.Date, loc *time.Location) (time.Time, error) {
	t := d.In(loc)
	if got := crm.DateOf(t); got.Before(d) {
		// Midnight fell in a gap and was taken in the old offset: the day
		// begins when the gap ends.
		if _, end := t.ZoneBounds(); !end.IsZero() {
			t = end.In(loc)
		}
	}
	if crm.DateOf(t) != d {
		return time.Time{}, invalidf("the date does not exist in %s (the zone skipped that day), so it cannot be held as a date-time there", loc)
	}
	return t, nil
}

// parseWall reads wall-clock text in the application's zone, refusing a wall
// clock that the zone skipped.
func (d *dateTime) parseWall(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{wallLayout, wallLayoutSp} {
		wall, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), d.app)
		if t.Hour() != wall.Hour() || t.Minute() != wall.Minute() || t.Day() != wall.Day() {
			return time.Time{}, invalidf("the wall clock does not exist in %s (the clocks went forward then): correct the time, or send it with an offset", d.app)
		}
		return t, nil
	}
	return time.Time{}, invalidf("the text is not a date-time: want 2026-11-27T13:00:00 (a wall clock in %s) or RFC 3339 with an offset", d.app)
}

func (d *dateTime) String() string { return d.spec.String() }
