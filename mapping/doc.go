// Package mapping is crmkit's field mapping: it pairs an application object
// with a CRM object, converts records between the two data models, keeps
// sensitive fields from leaving in the clear, checks both schemas at
// start-up, and writes the data-flow report a privacy review asks for.
//
// Every integration maps two models that disagree: picklists against free
// text, time zones against dates, decimals against floats, names that
// differ, fields one side must never see. Written by hand, such code goes
// wrong silently. Here the common cases are declarative, the hard ones are
// composable, and every mismatch becomes a clear problem at start-up instead
// of a corrupt record in production.
//
// # Maps
//
// An [ObjectMap] declares the application object ([AppSchema], declared by
// the host) and the CRM object (described by the CRM), and a list of
// [Rule]s. Each rule names an application field, a CRM field, a [Direction]
// (ToCRM, FromCRM or Both), an optional [Conversion] and an optional
// [Protection]. [New] checks the declaration against the CRM's schema and
// returns a [Map], which converts records in both directions:
//
//	om := mapping.ObjectMap{
//		Name: "customers",
//		App: mapping.AppSchema{Object: "customer", Fields: []mapping.AppField{
//			{Name: "email", Kind: crm.ValueString, Length: 80, Personal: true},
//			{Name: "tier", Kind: crm.ValueString},
//			{Name: "phone", Kind: crm.ValueString, Length: 40, Personal: true},
//		}},
//		CRMObject: "Contact",
//		Rules: []mapping.Rule{
//			{App: "email", CRM: "Email"},
//			{App: "tier", CRM: "Status", Convert: mapping.Picklist{Values: map[string]string{"gold": "Customer", "trial": "New"}}},
//			{App: "phone", CRM: "Phone", Protect: mapping.Mask(4)},
//			{CRM: "LastName", Convert: mapping.Constant{Value: "(unknown)"}},
//		},
//	}
//	schema, err := client.Describe(ctx, "Contact")
//	m, err := mapping.New(om, schema, mapping.WithHashKey(key))
//	fields, err := m.ToCRM(ctx, crm.Fields{"email": "ada@example.com", "tier": "gold"})
//
// A field absent from the input is absent from the output, so that a write
// leaves it unchanged; a nil value stays nil, so that a write clears it.
// Values are crmkit's normalised kinds on both sides: string, bool, int64,
// [crm.Decimal], time.Time, [crm.Date] and []string. Without a conversion,
// both sides of a rule must hold the same kind. Text longer than its
// destination's length fails its field, naming it, unless a [Truncate] cuts
// it; so does a value of the wrong kind.
//
// [Build] does the same for a whole set of maps at start-up: it describes
// each CRM object once through a [crm.Client] and reports the problems of
// every map together.
//
// # Conversions
//
// Conversions are small values; each converts both ways unless it says
// otherwise, and each is checked against the two fields it joins:
//
//   - [Picklist]: text through a value table, with a choice for values the
//     table does not list (error, a default, or pass through), checked
//     against the CRM picklist and the application's declared values.
//   - [MultiSelect]: a multi-select picklist to a []string or to joined text,
//     optionally through a table.
//   - [Truncate]: text cut to the described length, with a warning or an
//     error, as chosen.
//   - [DateTime]: dates and date-times between an IANA zone per side; a
//     date-only value never shifts a day, for any pair of zones.
//   - [Number]: exact conversions among int64, crm.Decimal and text.
//   - [Currency]: exact money, as decimals or as int64 minor units; never a
//     float, never a silent rounding.
//   - [Bool]: booleans from the usual spellings (yes/no, Y/N, 1/0, on/off).
//   - [Reference]: an application id to a CRM id and back, resolved by a
//     [LinkResolver] (the sync engine's links; [MemoryLinks] in tests).
//   - [Constant] and [Computed]: a fixed value, or a Go function of the whole
//     record; these flow one way and name only their destination.
//   - [Chain] composes them; [Func] adapts two Go functions; [Custom] names
//     a Go conversion registered with [WithConversion] for use in a file.
//
// A conversion that fails fails its field: [Map.ToCRM] returns a
// [*RecordError] listing every failed field, each a [*FieldError] naming the
// map, the rule and the direction. A bad value matches [ErrInvalidValue] (and
// crm.ErrValidation); a reference not linked yet matches [ErrNoLink]. Error
// messages describe values (their type, their length) but never hold them,
// and a custom conversion's own message is withheld for a personal field.
//
// # Sensitive fields
//
// A rule's [Protection] decides what of an application value reaches the
// CRM: [Drop] (nothing: the field never leaves), [Hash] (an HMAC-SHA256
// under the host's key from [WithHashKey], stable, so the CRM can still match
// on it) or [Mask] (only the last few characters). Protection is applied
// inside [Map.ToCRM], before the output exists, so no write, log line or span
// built from the output can see the raw value; protected and refused fields
// are also hidden from computed functions, and [Map.Redact] gives a copy of
// an application record that is safe to log. A [Residency] rule refuses a
// field for named CRM connections ([WithConnection]): on those, every rule
// that touches the field is left out.
//
// # Checks at start-up
//
// [New] reports every problem at once in a [*CheckError]: unknown fields on
// either side (with the nearest name), kinds that differ without a
// conversion (with the conversion that joins them), writes to read-only
// fields, CRM fields required on create that no rule writes, picklist values
// missing or inactive on the CRM side, text that may not fit, rules that
// flow both ways through a one-way conversion, protections that cannot be
// enforced, and each conversion's own settings. Each [Problem] names the map,
// the rule or field, and a fix:
//
//	map customers, rule 4 (score <-> Score): application field "score" holds string but CRM field Contact.Score holds int; fix: add a conversion: "convert": {"type": "number"} (mapping.Number{} in Go)
//
// # The data-flow report
//
// [Report] writes, from a set of maps, a Markdown document with a table per
// map of which fields flow where, in which direction, which hold personal
// data and how each is protected, a list of what becomes of each personal
// field, and a Mermaid diagram of the flows.
//
// # File format
//
// Maps can also be loaded from a JSON file with [LoadFile] or [Parse], which
// run the same checks that need no schema and report every problem in the
// file at once, including misspelt keys; [New] then checks each map against
// its CRM schema. A file holds a version and a list of maps:
//
//   - A map has "name", "note", "app" (with "object" and "fields"),
//     "crm_object", "rules" and "residency".
//   - An application field has "name", "kind" (string, bool, int, decimal,
//     datetime, date or strings), "length", "read_only", "personal",
//     "values" and "note".
//   - A rule has "app", "crm", "dir" (to_crm, from_crm or both; both when
//     left out, except to_crm for a protected, constant or computed rule),
//     "convert", "protect" and "note".
//   - "protect" is {"type": "drop"}, {"type": "hash", "fold_case": true} or
//     {"type": "mask", "keep": 4}.
//   - A residency rule has "field", "refuse" or "only" (lists of connection
//     names) and "reason".
//
// "convert" is an object whose "type" selects the conversion; its other
// keys are that conversion's settings:
//
//	type         keys
//	picklist     values (application value → CRM value), reverse (CRM value → application value),
//	             unknown (error, default or pass), default_crm, default_app, fold_case
//	multiselect  separator (";" when left out), and the picklist keys to map each element
//	truncate     length (0 or left out: the CRM field's), overflow (warn or error)
//	datetime     app_zone, crm_zone (IANA names; UTC when left out)
//	number       (none)
//	currency     minor_units (2 when the application holds cents), round (true or false)
//	bool         true, false (lists of spellings; the first of each is written)
//	reference    app_object, crm_object (when the CRM field may point at several), missing (error or null)
//	constant     value (text, a number, true, false, null or a list of text)
//	computed     name (registered with mapping.WithFunc)
//	custom       name (registered with mapping.WithConversion)
//	chain        steps (a list of conversions)
//
// This file uses every conversion:
//
//	{
//	  "version": 1,
//	  "maps": [
//	    {
//	      "name": "customers",
//	      "note": "Customers of the web shop, kept in step with CRM contacts.",
//	      "app": {
//	        "object": "customer",
//	        "fields": [
//	          {"name": "id", "kind": "string", "read_only": true},
//	          {"name": "first_name", "kind": "string", "length": 40, "personal": true},
//	          {"name": "last_name", "kind": "string", "length": 80, "personal": true},
//	          {"name": "email", "kind": "string", "length": 80, "personal": true},
//	          {"name": "phone", "kind": "string", "length": 40, "personal": true},
//	          {"name": "mobile", "kind": "string", "length": 40, "personal": true},
//	          {"name": "national_id", "kind": "string", "length": 20, "personal": true},
//	          {"name": "password_hash", "kind": "string", "personal": true},
//	          {"name": "tier", "kind": "string", "values": ["gold", "silver", "trial"]},
//	          {"name": "interests", "kind": "string"},
//	          {"name": "birthday", "kind": "date", "personal": true},
//	          {"name": "score", "kind": "string"},
//	          {"name": "lifetime_cents", "kind": "int"},
//	          {"name": "newsletter", "kind": "string"},
//	          {"name": "company_id", "kind": "int"},
//	          {"name": "signed_up_at", "kind": "string", "note": "wall clock in London"},
//	          {"name": "bio", "kind": "string"}
//	        ]
//	      },
//	      "crm_object": "Contact",
//	      "residency": [
//	        {"field": "national_id", "refuse": ["salesforce-us"], "reason": "national ids of EU residents stay in the EU"}
//	      ],
//	      "rules": [
//	        {"app": "id", "crm": "ExternalId", "dir": "to_crm", "note": "upsert key"},
//	        {"app": "first_name", "crm": "FirstName"},
//	        {"app": "last_name", "crm": "LastName"},
//	        {"app": "email", "crm": "Email"},
//	        {"app": "phone", "crm": "Phone", "protect": {"type": "mask", "keep": 4}},
//	        {"app": "mobile", "crm": "MobilePhone", "convert": {"type": "custom", "name": "e164"}},
//	        {"app": "national_id", "crm": "NationalIdHash", "protect": {"type": "hash"}, "note": "matched on, never read"},
//	        {"app": "password_hash", "protect": {"type": "drop"}},
//	        {"app": "tier", "crm": "Status", "convert": {
//	          "type": "picklist",
//	          "values": {"gold": "Customer", "silver": "Customer", "trial": "Qualified"},
//	          "reverse": {"Customer": "silver"},
//	          "unknown": "default", "default_crm": "New", "default_app": "trial"}},
//	        {"app": "interests", "crm": "Interests", "convert": {
//	          "type": "multiselect", "separator": ",",
//	          "values": {"software": "Software", "hardware": "Hardware", "services": "Services", "training": "Training"}}},
//	        {"app": "birthday", "crm": "Birthdate", "convert": {"type": "datetime", "app_zone": "Europe/London", "crm_zone": "America/New_York"}},
//	        {"app": "score", "crm": "Score", "convert": {"type": "number"}},
//	        {"app": "lifetime_cents", "crm": "AnnualValue", "convert": {"type": "currency", "minor_units": 2}},
//	        {"app": "newsletter", "crm": "Newsletter", "convert": {"type": "bool", "true": ["Y"], "false": ["N"]}},
//	        {"app": "company_id", "crm": "AccountId", "convert": {"type": "reference", "app_object": "company"}},
//	        {"app": "signed_up_at", "crm": "SignedUpAt", "convert": {"type": "datetime", "app_zone": "Europe/London"}},
//	        {"app": "bio", "crm": "Description", "convert": {"type": "truncate", "overflow": "warn"}},
//	        {"crm": "LeadSource", "convert": {"type": "constant", "value": "Web"}},
//	        {"crm": "Title", "convert": {"type": "chain", "steps": [
//	          {"type": "computed", "name": "salutation"},
//	          {"type": "truncate"}]}}
//	      ]
//	    },
//	    {
//	      "name": "companies",
//	      "app": {
//	        "object": "company",
//	        "fields": [
//	          {"name": "id", "kind": "string", "read_only": true},
//	          {"name": "name", "kind": "string", "length": 255},
//	          {"name": "sector", "kind": "string"},
//	          {"name": "headcount", "kind": "int"}
//	        ]
//	      },
//	      "crm_object": "Account",
//	      "rules": [
//	        {"app": "id", "crm": "ExternalId", "dir": "to_crm"},
//	        {"app": "name", "crm": "Name"},
//	        {"app": "sector", "crm": "Industry", "convert": {"type": "picklist", "values": {"tech": "Technology", "money": "Finance"}, "unknown": "pass"}},
//	        {"app": "headcount", "crm": "NumberOfEmployees"}
//	      ]
//	    }
//	  ]
//	}
//
// Loading it and building its maps:
//
//	maps, err := mapping.LoadFile("maps.json")
//	built, err := mapping.Build(ctx, client, maps,
//		mapping.WithConnection("salesforce-eu"),
//		mapping.WithHashKey(key),
//		mapping.WithLinks(links),
//		mapping.WithFunc("salutation", salutation),
//		mapping.WithConversion("e164", e164))
//	err = mapping.Report(os.Stdout, built...)
//
// Zones are loaded from the system's zone database; a program that runs
// where there may be none should import time/tzdata.
package mapping
