package dynamicstest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/internal/memstore"
)

// env is the emulated Dataverse environment: its tables, their data (in a
// memstore.Store) and its users. Reads go straight to the store; every
// write holds mu, so that a change set, an upsert's look-up-then-write and
// the undo of a failed change set are never interleaved with another write.
type env struct {
	mu      sync.Mutex
	store   *memstore.Store
	now     func() time.Time
	tables  []*etable
	bySet   map[string]*etable // by entity set name (case sensitive, as in Dataverse)
	byName  map[string]*etable // by lower-cased logical name
	maxPage int

	appUserID string // the application user the emulator's callers act as
	appObject string // its Entra object id
	orgID     string
	buID      string
}

// etable is a declared table with its indexes.
type etable struct {
	Table
	metadataID string
	attrs      []*eattr
	byName     map[string]*eattr // by lower-cased logical name
	byNav      map[string]*eattr // by navigation property (case sensitive)
	pk         *eattr
	keys       []ekey // single-column alternate keys: external ids in the store, found with its Lookup
}

type ekey struct {
	Key
	metadataID string
	attr       *eattr
}

// eattr is a declared column.
type eattr struct {
	Attribute
	table       *etable
	metadataID  string
	pk          bool
	system      bool // createdon, modifiedon, createdby, modifiedby: set by the emulator
	validCreate bool
	validUpdate bool
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// guidIDs issues GUIDs whose last group counts up, with a per-table prefix,
// so that records made by the emulator itself sort in creation order.
func guidIDs(table string) memstore.IDFunc {
	prefix := metadataID("ids", table)[:24]
	return func(n uint64) string { return fmt.Sprintf("%s%012x", prefix, n) }
}

func newEnv(cfg *config) (*env, error) {
	e := &env{
		store:   memstore.New(memstore.WithClock(func() time.Time { return cfg.now().UTC().Truncate(time.Second) })),
		now:     cfg.now,
		bySet:   map[string]*etable{},
		byName:  map[string]*etable{},
		maxPage: 5000,
		orgID:   metadataID("organization"),
		buID:    metadataID("businessunit"),
	}
	tables := cfg.tables
	for _, name := range cfg.tracked {
		i := slices.IndexFunc(tables, func(t Table) bool { return strings.EqualFold(t.LogicalName, name) })
		if i < 0 {
			return nil, fmt.Errorf("dynamicstest: WithChangeTracking(%q): there is no such table", name)
		}
		tables[i].ChangeTracking = true
	}
	for _, t := range tables {
		if err := e.addTable(t); err != nil {
			return nil, err
		}
	}
	for _, t := range e.tables {
		for _, a := range t.attrs {
			for _, target := range a.Targets {
				if e.byName[strings.ToLower(target)] == nil {
					return nil, fmt.Errorf("dynamicstest: %s.%s targets table %q, which is not declared", t.LogicalName, a.LogicalName, target)
				}
			}
		}
	}
	if su := e.byName["systemuser"]; su != nil {
		e.appObject = newGUID()
		rec, err := e.store.Create(su.LogicalName, crm.Fields{
			"fullname": "# crmkit integration", "applicationid": newGUID(), "azureactivedirectoryobjectid": e.appObject,
			"domainname": "crmkit-integration@example.com", "isdisabled": false,
		}, memstore.AsSystem())
		if err != nil {
			return nil, fmt.Errorf("dynamicstest: seeding the application user: %w", err)
		}
		e.appUserID = rec.ID
	}
	return e, nil
}

func (e *env) addTable(t Table) error {
	if t.LogicalName == "" || strings.ToLower(t.LogicalName) != t.LogicalName {
		return fmt.Errorf("dynamicstest: table %q: LogicalName must be set and lower case", t.LogicalName)
	}
	if e.byName[t.LogicalName] != nil {
		return fmt.Errorf("dynamicstest: table %q is declared twice", t.LogicalName)
	}
	if t.SchemaName == "" {
		t.SchemaName = t.LogicalName
	}
	if t.EntitySetName == "" {
		t.EntitySetName = t.LogicalName + "s"
	}
	if t.DisplayName == "" {
		t.DisplayName = t.SchemaName
	}
	if t.PrimaryIDAttribute == "" {
		t.PrimaryIDAttribute = t.LogicalName + "id"
	}
	if e.bySet[t.EntitySetName] != nil {
		return fmt.Errorf("dynamicstest: table %q: entity set %q is already used", t.LogicalName, t.EntitySetName)
	}
	et := &etable{Table: t, metadataID: metadataID("entity", t.LogicalName), byName: map[string]*eattr{}, byNav: map[string]*eattr{}}
	attrs := []Attribute{{LogicalName: t.PrimaryIDAttribute, SchemaName: t.SchemaName + "Id", DisplayName: t.DisplayName, Type: Uniqueidentifier, Required: SystemRequired, DefaultOption: -1}}
	attrs = append(attrs, t.Attributes...)
	system := []Attribute{
		{LogicalName: "createdon", SchemaName: "CreatedOn", DisplayName: "Created On", Type: DateTime, ReadOnly: true, DefaultOption: -1},
		{LogicalName: "modifiedon", SchemaName: "ModifiedOn", DisplayName: "Modified On", Type: DateTime, ReadOnly: true, DefaultOption: -1},
		{LogicalName: "createdby", SchemaName: "CreatedBy", DisplayName: "Created By", Type: Lookup, Targets: []string{"systemuser"}, ReadOnly: true, DefaultOption: -1},
		{LogicalName: "modifiedby", SchemaName: "ModifiedBy", DisplayName: "Modified By", Type: Lookup, Targets: []string{"systemuser"}, ReadOnly: true, DefaultOption: -1},
	}
	for _, s := range system {
		if !slices.ContainsFunc(attrs, func(a Attribute) bool { return a.LogicalName == s.LogicalName }) {
			attrs = append(attrs, s)
		}
	}
	schema := &crm.Schema{Object: t.LogicalName, Label: t.DisplayName, Custom: t.Custom, IDField: t.PrimaryIDAttribute, ModifiedField: "modifiedon"}
	for i, a := range attrs {
		if a.LogicalName == "" || strings.ToLower(a.LogicalName) != a.LogicalName {
			return fmt.Errorf("dynamicstest: table %s: column %q: LogicalName must be set and lower case", t.LogicalName, a.LogicalName)
		}
		if e := et.byName[a.LogicalName]; e != nil {
			return fmt.Errorf("dynamicstest: table %s: column %s is declared twice", t.LogicalName, a.LogicalName)
		}
		if a.SchemaName == "" {
			a.SchemaName = a.LogicalName
		}
		if a.DisplayName == "" {
			a.DisplayName = a.SchemaName
		}
		if a.Required == "" {
			a.Required = None
		}
		switch a.Type {
		case String:
			if a.MaxLength == 0 {
				a.MaxLength = 100
			}
			if a.Format == "" {
				a.Format = "Text"
			}
		case Memo:
			if a.MaxLength == 0 {
				a.MaxLength = 2000
			}
		case Decimal, Money, Double:
			if a.Precision == 0 {
				a.Precision = 2
			}
		case DateTime:
			if a.DateTimeBehavior == "" {
				a.DateTimeBehavior = UserLocal
			}
		case Lookup, Customer, Owner:
			if len(a.Targets) == 0 {
				return fmt.Errorf("dynamicstest: table %s: lookup %s has no Targets", t.LogicalName, a.LogicalName)
			}
			if a.NavigationProperty == "" {
				a.NavigationProperty = a.LogicalName
				if a.Custom {
					a.NavigationProperty = a.SchemaName
				}
			}
		case Picklist, MultiSelectPicklist, State, Status:
			if len(a.Options) == 0 {
				return fmt.Errorf("dynamicstest: table %s: column %s has no Options", t.LogicalName, a.LogicalName)
			}
		case Integer, BigInt, Boolean, Uniqueidentifier:
		default:
			return fmt.Errorf("dynamicstest: table %s: column %s has type %q, which the emulator does not store", t.LogicalName, a.LogicalName, a.Type)
		}
		if _, ok := (&eattr{Attribute: a}).option(a.DefaultOption); !ok || a.Type == MultiSelectPicklist {
			a.DefaultOption = -1
		}
		ea := &eattr{Attribute: a, table: et, metadataID: metadataID("attribute", t.LogicalName, a.LogicalName), pk: i == 0,
			validCreate: !a.ReadOnly, validUpdate: !a.ReadOnly && !a.CreateOnly}
		switch a.LogicalName {
		case "createdon", "modifiedon", "createdby", "modifiedby":
			ea.system, ea.validCreate, ea.validUpdate = true, false, false
		}
		if ea.pk {
			ea.validUpdate = false
			et.pk = ea
		}
		et.attrs = append(et.attrs, ea)
		et.byName[a.LogicalName] = ea
		if a.NavigationProperty != "" {
			et.byNav[a.NavigationProperty] = ea
		}
		schema.Fields = append(schema.Fields, ea.storeField())
	}
	for _, k := range t.Keys {
		if len(k.Attributes) != 1 {
			return fmt.Errorf("dynamicstest: table %s: key %s has %d columns; the emulator supports alternate keys of one column", t.LogicalName, k.LogicalName, len(k.Attributes))
		}
		a := et.byName[k.Attributes[0]]
		if a == nil {
			return fmt.Errorf("dynamicstest: table %s: key %s names column %q, which is not declared", t.LogicalName, k.LogicalName, k.Attributes[0])
		}
		switch a.Type {
		case String, Integer, BigInt, Decimal, Uniqueidentifier, DateTime, Picklist, Lookup:
		default:
			return fmt.Errorf("dynamicstest: table %s: key %s: a %s column cannot be in an alternate key", t.LogicalName, k.LogicalName, a.Type)
		}
		et.keys = append(et.keys, ekey{Key: k, metadataID: metadataID("key", t.LogicalName, k.LogicalName), attr: a})
		for i := range schema.Fields {
			if schema.Fields[i].Name == a.LogicalName {
				schema.Fields[i].ExternalID = true
			}
		}
	}
	if err := e.store.AddTable(schema, memstore.WithIDs(guidIDs(t.LogicalName)), memstore.WithCreatedField("createdon")); err != nil {
		return fmt.Errorf("dynamicstest: table %s: %w", t.LogicalName, err)
	}
	e.tables = append(e.tables, et)
	e.bySet[t.EntitySetName] = et
	e.byName[t.LogicalName] = et
	return nil
}

// storeField is the column as the memstore table holds it. The emulator
// checks what Dataverse checks itself (and writes as the system), so the
// store only keeps types, lengths, option values and key uniqueness.
func (a *eattr) storeField() crm.Field {
	f := crm.Field{Name: a.LogicalName, Type: a.crmType(), Nillable: !a.pk, Createable: true, Updateable: true, Length: a.MaxLength}
	for _, o := range a.Options {
		f.Picklist = append(f.Picklist, crm.PicklistValue{Value: strconv.Itoa(o.Value), Label: o.Label, Active: true, Default: o.Value == a.DefaultOption})
	}
	return f
}

func (a *eattr) crmType() crm.FieldType {
	switch a.Type {
	case String:
		switch a.Format {
		case "Email":
			return crm.TypeEmail
		case "Phone":
			return crm.TypePhone
		case "Url":
			return crm.TypeURL
		}
		return crm.TypeString
	case Memo:
		return crm.TypeText
	case Uniqueidentifier:
		if a.pk {
			return crm.TypeID
		}
		return crm.TypeString
	case Integer, BigInt:
		return crm.TypeInt
	case Decimal, Double:
		return crm.TypeDecimal
	case Money:
		return crm.TypeCurrency
	case Boolean:
		return crm.TypeBool
	case DateTime:
		if a.DateTimeBehavior == DateOnly {
			return crm.TypeDate
		}
		return crm.TypeDateTime
	case Picklist, State, Status:
		return crm.TypePicklist
	case MultiSelectPicklist:
		return crm.TypeMultiPicklist
	case Lookup, Customer, Owner:
		return crm.TypeReference
	}
	return crm.TypeString
}

func (a *eattr) isLookup() bool { return a.Type == Lookup || a.Type == Customer || a.Type == Owner }

// wireName is the name of the column in a JSON row: _x_value for lookups.
func (a *eattr) wireName() string {
	if a.isLookup() {
		return "_" + a.LogicalName + "_value"
	}
	return a.LogicalName
}

func (a *eattr) edm() string {
	switch a.Type {
	case String, Memo:
		return "Edm.String"
	case Integer, Picklist, State, Status:
		return "Edm.Int32"
	case BigInt:
		return "Edm.Int64"
	case Decimal, Money:
		return "Edm.Decimal"
	case Double:
		return "Edm.Double"
	case Boolean:
		return "Edm.Boolean"
	case DateTime:
		if a.DateTimeBehavior == DateOnly {
			return "Edm.Date"
		}
		return "Edm.DateTimeOffset"
	case MultiSelectPicklist:
		return "Edm.String"
	}
	return "Edm.Guid"
}

func (a *eattr) option(v int) (Choice, bool) {
	for _, o := range a.Options {
		if o.Value == v {
			return o, true
		}
	}
	return Choice{}, false
}

func (a *eattr) optionValues() string {
	vs := make([]string, len(a.Options))
	for i, o := range a.Options {
		vs[i] = strconv.Itoa(o.Value)
	}
	return strings.Join(vs, ",")
}

// attr finds a column by logical name, without regard to case.
func (t *etable) attr(name string) *eattr { return t.byName[strings.ToLower(name)] }

// wireAttr finds a column by the name a row or a $select uses: the logical
// name, or _x_value for a lookup.
func (t *etable) wireAttr(name string) *eattr {
	if strings.HasPrefix(name, "_") && strings.HasSuffix(name, "_value") {
		if a := t.attr(name[1 : len(name)-len("_value")]); a != nil && a.isLookup() {
			return a
		}
		return nil
	}
	if a := t.attr(name); a != nil && !a.isLookup() {
		return a
	}
	return nil
}

// jsonValue renders a stored value as Dataverse writes it in JSON.
func (a *eattr) jsonValue(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		switch a.Type {
		case Picklist, State, Status:
			return json.Number(x)
		}
		return x
	case crm.Decimal:
		return json.RawMessage(x.String())
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05Z")
	case crm.Date:
		return x.String()
	case []string:
		return strings.Join(x, ",")
	}
	return v
}

// formatted is the OData.Community.Display.V1.FormattedValue of a stored
// value, as an English-language user sees it.
func (a *eattr) formatted(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		switch a.Type {
		case Picklist, State, Status:
			n, _ := strconv.Atoi(x)
			if o, ok := a.option(n); ok {
				return o.Label, true
			}
		}
	case []string:
		labels := make([]string, 0, len(x))
		for _, s := range x {
			n, _ := strconv.Atoi(s)
			if o, ok := a.option(n); ok {
				labels = append(labels, o.Label)
			}
		}
		return strings.Join(labels, "; "), true
	case bool:
		if x {
			return "Yes", true
		}
		return "No", true
	case crm.Decimal:
		if a.Type == Money {
			return "$" + x.Round(int32(a.Precision)).String(), true
		}
		return x.String(), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case time.Time:
		if a.DateTimeBehavior == TimeZoneIndependent {
			return x.Format("1/2/2006 3:04 PM"), true
		}
		return x.UTC().Format("1/2/2006 3:04 PM"), true
	case crm.Date:
		return x.In(time.UTC).Format("1/2/2006"), true
	}
	return "", false
}

// fromJSON converts a JSON value from a request body to the stored value,
// checking it as Dataverse does. The error is the message of a 400.
func (a *eattr) fromJSON(v any) (any, *apiError) {
	if v == nil {
		if a.Required == SystemRequired {
			return nil, errValidation(fmt.Sprintf("Attribute '%s' cannot be NULL.", a.LogicalName), a.LogicalName)
		}
		return nil, nil
	}
	conv := func() *apiError {
		return errPayload(fmt.Sprintf("Cannot convert the literal '%s' to the expected type '%s'.", clipText(fmt.Sprint(v)), a.edm()), a.LogicalName)
	}
	switch a.Type {
	case String, Memo:
		s, ok := v.(string)
		if !ok {
			return nil, conv()
		}
		if n := utf8.RuneCountInString(s); n > a.MaxLength {
			return nil, errValidation(fmt.Sprintf("A validation error occurred. The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", a.LogicalName, a.table.LogicalName, a.MaxLength), a.LogicalName)
		}
		return s, nil
	case Uniqueidentifier:
		s, ok := v.(string)
		if !ok || !guidRE.MatchString(s) {
			return nil, conv()
		}
		return strings.ToLower(s), nil
	case Integer, BigInt:
		n, ok := v.(json.Number)
		if !ok {
			return nil, conv()
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || (a.Type == Integer && (i < -2147483648 || i > 2147483647)) {
			return nil, conv()
		}
		return i, nil
	case Decimal, Money, Double:
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = x
		default:
			return nil, conv()
		}
		d, err := crm.ParseDecimal(text)
		if err != nil {
			return nil, conv()
		}
		return d.Round(int32(a.Precision)), nil
	case Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, conv()
		}
		return b, nil
	case DateTime:
		s, ok := v.(string)
		if !ok {
			return nil, conv()
		}
		switch a.DateTimeBehavior {
		case DateOnly:
			d, err := crm.ParseDate(s)
			if err != nil {
				return nil, conv()
			}
			return d, nil
		case TimeZoneIndependent:
			t, err := parseWireTime(s)
			if err != nil {
				return nil, conv()
			}
			// The wall-clock time as written, whatever the offset says.
			y, m, d := t.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, time.UTC), nil
		}
		t, err := parseWireTime(s)
		if err != nil {
			return nil, conv()
		}
		return t.UTC().Truncate(time.Second), nil
	case Picklist, State, Status:
		n, ok := v.(json.Number)
		if !ok {
			return nil, conv()
		}
		i, err := strconv.Atoi(n.String())
		if err != nil {
			return nil, conv()
		}
		if _, ok := a.option(i); !ok {
			return nil, errOptionRange(a, n.String())
		}
		return strconv.Itoa(i), nil
	case MultiSelectPicklist:
		s, ok := v.(string)
		if !ok {
			return nil, conv()
		}
		if s == "" {
			return []string{}, nil
		}
		var out []string
		for _, p := range strings.Split(s, ",") {
			i, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return nil, conv()
			}
			if _, ok := a.option(i); !ok {
				return nil, errOptionRange(a, strconv.Itoa(i))
			}
			out = append(out, strconv.Itoa(i))
		}
		return out, nil
	}
	return nil, conv()
}

// parseWireTime parses a date-time as Dataverse accepts it: ISO 8601 with or
// without an offset (none means UTC) and with optional fractional seconds.
func parseWireTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date-time: %q", s)
}

func clipText(s string) string {
	if r := []rune(s); len(r) > 100 {
		return string(r[:97]) + "..."
	}
	return s
}

// apiError is an error response: an HTTP status and Dataverse's
// {"error":{"code","message"}} body.
type apiError struct {
	status  int
	code    string
	message string
	field   string // for tests of the emulator; not sent
	header  http.Header
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

// The error codes of the Dataverse Web API that the emulator answers with.
const (
	codeNotFound          = "0x80040217" // ObjectDoesNotExist
	codeVersionMismatch   = "0x80060882" // ConcurrencyVersionMismatch
	codeDuplicate         = "0x80040237" // DuplicateRecord
	codeDuplicateKey      = "0x80060892" // DuplicateRecordEntityKey
	codeKeyNotDefined     = "0x80060890" // EntityKeyNotDefined
	codeOptionRange       = "0x8004431A" // PicklistValueOutOfRange
	codePayload           = "0x80048d19" // ODataClientPayloadError
	codeHTTP              = "0x8006088A" // CrmHttpError
	codeQuery             = "0x80060888" // query option or property errors
	codePrivilege         = "0x80040220" // PrivilegeDenied
	codeValidation        = "0x80044331" // validation
	codeInvalidArgument   = "0x80040203" // InvalidArgument
	codeRequests          = "0x80072322" // service protection: number of requests
	codeExecutionTime     = "0x80072321" // service protection: execution time
	codeConcurrency       = "0x80072326" // service protection: concurrent requests
	codeUnexpected        = "0x80040216" // UnExpected
	codeNotImplemented    = "0x80060889" // a feature the emulator does not have
	codeBatchLimitReached = "0x8005F103" // more than 1000 operations in a $batch
)

func errNotFound(t *etable, id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound, message: fmt.Sprintf("%s With Id = %s Does Not Exist", t.LogicalName, id)}
}

func errPayload(msg, field string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codePayload, message: msg, field: field}
}

func errValidation(msg, field string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeValidation, message: msg, field: field}
}

func errOptionRange(a *eattr, value string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeOptionRange, field: a.LogicalName,
		message: fmt.Sprintf("A validation error occurred. The value %s of '%s' on record of type '%s' is outside the valid range. Accepted Values: %s", value, a.LogicalName, a.table.LogicalName, a.optionValues())}
}

func errQuery(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeQuery, message: msg}
}

func errNoProperty(t *etable, name string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeQuery, field: name,
		message: fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, t.LogicalName)}
}

func errInvalidProperty(t *etable, name string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codePayload, field: name,
		message: fmt.Sprintf("An error occurred while validating input parameters: Microsoft.OData.ODataException: The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", name, t.LogicalName)}
}

func errNotImplemented(what string) *apiError {
	return &apiError{status: http.StatusNotImplemented, code: codeNotImplemented, message: what + " is not supported by the crmkit Dataverse emulator."}
}

func errBadRequest(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeHTTP, message: msg}
}

// fromStore turns a memstore error into the response Dataverse gives for the
// same problem.
func fromStore(t *etable, err error) *apiError {
	var ce *crm.Error
	if !errors.As(err, &ce) {
		return &apiError{status: http.StatusInternalServerError, code: codeUnexpected, message: "An unexpected error occurred."}
	}
	switch ce.Kind {
	case crm.KindNotFound:
		return errNotFound(t, ce.RecordID)
	case crm.KindConflict:
		return &apiError{status: http.StatusPreconditionFailed, code: codeVersionMismatch, message: "The version of the existing record doesn't match the RowVersion property provided."}
	case crm.KindDuplicate:
		field := ""
		if len(ce.Fields) > 0 {
			field = ce.Fields[0]
		}
		if field == "" || field == t.PrimaryIDAttribute {
			return &apiError{status: http.StatusPreconditionFailed, code: codeDuplicate, message: "Cannot insert duplicate key.", field: field}
		}
		keyName := field
		for _, k := range t.keys {
			if k.attr.LogicalName == field {
				keyName = k.LogicalName
			}
		}
		return &apiError{status: http.StatusPreconditionFailed, code: codeDuplicateKey, field: field,
			message: fmt.Sprintf("A record that has the attribute values %s already exists. The entity key %s requires that this set of attributes contains unique values. Select unique values and try again.", field, keyName)}
	case crm.KindValidation:
		field := ""
		if len(ce.Fields) > 0 {
			field = ce.Fields[0]
		}
		return errValidation("A validation error occurred. "+ce.Message, field)
	}
	return &apiError{status: http.StatusBadRequest, code: codeInvalidArgument, message: ce.Message}
}
