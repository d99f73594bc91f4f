package salesforcetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Object declares an sObject of the emulated org: a custom object for
// [WithObject], with the fields a test needs. The emulator adds the fields
// every custom object has (Id, Name unless declared, OwnerId, IsDeleted,
// CreatedDate, CreatedById, LastModifiedDate, LastModifiedById,
// SystemModstamp), so a declaration lists only the object's own fields.
type Object struct {
	// Name is the API name; a custom object's ends in "__c".
	Name string
	// Label and LabelPlural default to the name without "__c".
	Label       string
	LabelPlural string
	// KeyPrefix is the three-character prefix of the object's record ids;
	// custom objects get a00, a01, ... when it is empty.
	KeyPrefix string
	// Fields are the object's own fields.
	Fields []Field
	// NotDeletable makes deletes fail, as for User.
	NotDeletable bool
}

// Field declares a field. The zero values give an optional, createable,
// updateable field: set Required, ReadOnly or CreateOnly to say otherwise.
type Field struct {
	// Name is the API name; a custom field's ends in "__c".
	Name  string
	Label string // defaults to the name without "__c"
	// Type is the Salesforce field type: id, string, textarea, email, phone,
	// url, picklist, multipicklist, combobox, reference, boolean, currency,
	// double, percent, int, long, date, datetime or time.
	Type string
	// Length bounds text values (defaults: string, url, picklist 255;
	// textarea 255, or set 32768 for a long text area, which cannot be
	// filtered; email 80; phone 40).
	Length int
	// Precision and Scale bound numbers: Precision digits in all, Scale of
	// them after the point (defaults 18 and 0).
	Precision, Scale int
	// Required makes the field mandatory on create and refuses null.
	Required bool
	// ReadOnly makes the field neither createable nor updateable.
	ReadOnly bool
	// CreateOnly makes the field createable but not updateable.
	CreateOnly bool
	// Defaulted says the org fills the field on create when it is not given
	// (defaultedOnCreate), so it is not required even when not nillable.
	Defaulted bool
	// ExternalID makes the field an external id, usable to key upserts.
	ExternalID bool
	// Unique refuses a value another record already holds.
	Unique bool
	// Picklist lists a picklist's values; DefaultValue is the one used when
	// a create does not give one.
	Picklist     []string
	DefaultValue string
	// Unrestricted lets a picklist take values outside its list, as many
	// standard picklists do; custom picklists are restricted by default.
	Unrestricted bool
	// ReferenceTo names the objects a reference field points to, and
	// RelationshipName the relationship ("Account" for AccountId).
	ReferenceTo      []string
	RelationshipName string
	// NameField marks the object's name field.
	NameField bool
	// Calculated marks a formula or computed field (read-only).
	Calculated bool
}

// field is a declared field with its derived describe properties.
type field struct {
	Field
	custom     bool
	createable bool
	updateable bool
	nillable   bool
	defaulted  bool
	filterable bool
	sortable   bool
	virtual    bool // computed when read, not stored (IsDeleted)
	crmType    crm.FieldType
}

// object is a declared object, ready to serve.
type object struct {
	Object
	custom   bool
	fields   []*field
	byName   map[string]*field // by lower-cased name
	modified time.Time         // for describe's If-Modified-Since
}

func (o *object) field(name string) (*field, bool) {
	f, ok := o.byName[strings.ToLower(name)]
	return f, ok
}

var crmTypes = map[string]crm.FieldType{
	"id": crm.TypeID, "string": crm.TypeString, "combobox": crm.TypeString, "encryptedstring": crm.TypeString,
	"textarea": crm.TypeText, "email": crm.TypeEmail, "phone": crm.TypePhone, "url": crm.TypeURL,
	"boolean": crm.TypeBool, "int": crm.TypeInt, "long": crm.TypeInt, "double": crm.TypeDecimal,
	"currency": crm.TypeCurrency, "percent": crm.TypePercent, "date": crm.TypeDate, "datetime": crm.TypeDateTime,
	"time": crm.TypeString, "picklist": crm.TypePicklist, "multipicklist": crm.TypeMultiPicklist,
	"reference": crm.TypeReference,
}

var defaultLengths = map[string]int{
	"id": 18, "reference": 18, "string": 255, "combobox": 255, "encryptedstring": 175, "textarea": 255,
	"email": 80, "phone": 40, "url": 255, "picklist": 255, "multipicklist": 4099,
}

func isText(t string) bool {
	_, ok := defaultLengths[t]
	return ok && t != "id" && t != "reference"
}

func isNumber(t string) bool {
	switch t {
	case "int", "long", "double", "currency", "percent":
		return true
	}
	return false
}

// compileField checks a declaration and derives its describe properties.
func compileField(obj string, d Field) (*field, error) {
	if d.Name == "" {
		return nil, fmt.Errorf("salesforcetest: a field of %s has no name", obj)
	}
	t, ok := crmTypes[d.Type]
	if !ok {
		return nil, fmt.Errorf("salesforcetest: field %s.%s has type %q: use one of id, string, textarea, email, phone, url, picklist, multipicklist, combobox, reference, boolean, currency, double, percent, int, long, date, datetime, time", obj, d.Name, d.Type)
	}
	f := &field{Field: d, crmType: t, custom: strings.HasSuffix(d.Name, "__c")}
	if f.Label == "" {
		f.Label = strings.ReplaceAll(strings.TrimSuffix(d.Name, "__c"), "_", " ")
	}
	if f.Length == 0 {
		f.Length = defaultLengths[d.Type]
	}
	if isNumber(d.Type) && f.Precision == 0 {
		f.Precision = 18
	}
	if d.Type == "reference" && len(d.ReferenceTo) == 0 {
		return nil, fmt.Errorf("salesforcetest: reference field %s.%s needs ReferenceTo", obj, d.Name)
	}
	if (d.Type == "picklist" || d.Type == "multipicklist") && d.DefaultValue != "" && !contains(d.Picklist, d.DefaultValue) {
		return nil, fmt.Errorf("salesforcetest: picklist %s.%s has default %q, which is not one of its values", obj, d.Name, d.DefaultValue)
	}
	ro := d.ReadOnly || d.Calculated || d.Type == "id"
	f.createable = !ro
	f.updateable = !ro && !d.CreateOnly
	f.defaulted = d.Defaulted || d.Type == "boolean" || d.DefaultValue != "" || d.Type == "id"
	f.nillable = !d.Required && d.Type != "boolean" && d.Type != "id" && !(ro && d.Defaulted)
	longText := d.Type == "textarea" && f.Length > 255
	f.filterable = !longText
	f.sortable = !longText && d.Type != "multipicklist"
	return f, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// compileObject checks a declaration, adds the standard fields every object
// has, and indexes the fields.
func compileObject(d Object, std bool) (*object, error) {
	if d.Name == "" {
		return nil, fmt.Errorf("salesforcetest: an object has no name")
	}
	o := &object{Object: d, custom: strings.HasSuffix(d.Name, "__c"), byName: map[string]*field{}}
	if !std && !o.custom {
		return nil, fmt.Errorf("salesforcetest: object %q is not custom: custom object names end in __c (standard objects are built in; add fields to them with WithFields)", d.Name)
	}
	if o.Label == "" {
		o.Label = strings.ReplaceAll(strings.TrimSuffix(d.Name, "__c"), "_", " ")
	}
	if o.LabelPlural == "" {
		o.LabelPlural = o.Label + "s"
	}
	decls := d.Fields
	if o.custom {
		decls = append(customObjectFields(d), d.Fields...)
	}
	for _, fd := range decls {
		if _, dup := o.byName[strings.ToLower(fd.Name)]; dup {
			return nil, fmt.Errorf("salesforcetest: %s.%s is declared twice (field names ignore case)", d.Name, fd.Name)
		}
		f, err := compileField(d.Name, fd)
		if err != nil {
			return nil, err
		}
		if f.Name == "IsDeleted" {
			f.virtual = true
		}
		o.fields = append(o.fields, f)
		o.byName[strings.ToLower(f.Name)] = f
	}
	for _, need := range []string{"Id", "SystemModstamp", "CreatedDate"} {
		if _, ok := o.byName[strings.ToLower(need)]; !ok {
			return nil, fmt.Errorf("salesforcetest: object %s has no %s field", d.Name, need)
		}
	}
	return o, nil
}

// customObjectFields are the fields every custom object has. A declared
// Name field replaces the default one.
func customObjectFields(d Object) []Field {
	fields := []Field{idField(), ownerField(), isDeleted()}
	declaresName := false
	for _, f := range d.Fields {
		if strings.EqualFold(f.Name, "Name") {
			declaresName = true
		}
	}
	if !declaresName {
		fields = append(fields, Field{Name: "Name", Label: strings.TrimSuffix(d.Name, "__c") + " Name", Type: "string", Length: 80, Required: true, NameField: true})
	}
	return append(fields, auditFields()...)
}

func idField() Field {
	return Field{Name: "Id", Label: "Record ID", Type: "id", ReadOnly: true, Defaulted: true}
}

func isDeleted() Field {
	return Field{Name: "IsDeleted", Label: "Deleted", Type: "boolean", ReadOnly: true, Defaulted: true}
}

func ownerField() Field {
	return Field{Name: "OwnerId", Label: "Owner ID", Type: "reference", ReferenceTo: []string{"User"}, RelationshipName: "Owner", Defaulted: true}
}

func auditFields() []Field {
	return []Field{
		{Name: "CreatedDate", Label: "Created Date", Type: "datetime", ReadOnly: true, Defaulted: true},
		{Name: "CreatedById", Label: "Created By ID", Type: "reference", ReferenceTo: []string{"User"}, RelationshipName: "CreatedBy", ReadOnly: true, Defaulted: true},
		{Name: "LastModifiedDate", Label: "Last Modified Date", Type: "datetime", ReadOnly: true, Defaulted: true},
		{Name: "LastModifiedById", Label: "Last Modified By ID", Type: "reference", ReferenceTo: []string{"User"}, RelationshipName: "LastModifiedBy", ReadOnly: true, Defaulted: true},
		{Name: "SystemModstamp", Label: "System Modstamp", Type: "datetime", ReadOnly: true, Defaulted: true},
	}
}

func str(name, label string, length int) Field {
	return Field{Name: name, Label: label, Type: "string", Length: length}
}

func text(name, label string, length int) Field {
	return Field{Name: name, Label: label, Type: "textarea", Length: length}
}

func typed(name, label, typ string) Field { return Field{Name: name, Label: label, Type: typ} }

func pick(name, label string, restricted bool, values ...string) Field {
	return Field{Name: name, Label: label, Type: "picklist", Picklist: values, Unrestricted: !restricted}
}

func ref(name, label, rel string, to ...string) Field {
	return Field{Name: name, Label: label, Type: "reference", ReferenceTo: to, RelationshipName: rel}
}

func required(f Field) Field { f.Required = true; return f }
func readOnly(f Field) Field { f.ReadOnly = true; return f }

func number(name, label, typ string, precision, scale int) Field {
	return Field{Name: name, Label: label, Type: typ, Precision: precision, Scale: scale}
}

func address(prefix, label string) []Field {
	return []Field{
		text(prefix+"Street", label+" Street", 255),
		str(prefix+"City", label+" City", 40),
		str(prefix+"State", label+" State/Province", 80),
		str(prefix+"PostalCode", label+" Zip/Postal Code", 20),
		str(prefix+"Country", label+" Country", 80),
	}
}

var (
	sources    = []string{"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}
	industries = []string{"Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
		"Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering", "Entertainment",
		"Environmental", "Finance", "Food & Beverage", "Government", "Healthcare", "Hospitality", "Insurance",
		"Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail", "Shipping", "Technology",
		"Telecommunications", "Transportation", "Utilities", "Other"}
	salutations = []string{"Mr.", "Ms.", "Mrs.", "Dr.", "Prof."}
	ratings     = []string{"Hot", "Warm", "Cold"}
)

// standardObjects are the objects every emulated org has, with the fields
// a Salesforce integration most often reads and writes.
func standardObjects() []Object {
	account := Object{Name: "Account", Label: "Account", LabelPlural: "Accounts", KeyPrefix: "001", Fields: concat(
		[]Field{idField(), isDeleted(),
			readOnly(ref("MasterRecordId", "Master Record ID", "MasterRecord", "Account")),
			{Name: "Name", Label: "Account Name", Type: "string", Length: 255, Required: true, NameField: true},
			pick("Type", "Account Type", false, "Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other"),
			ref("ParentId", "Parent Account ID", "Parent", "Account"),
		},
		address("Billing", "Billing"), address("Shipping", "Shipping"),
		[]Field{
			typed("Phone", "Account Phone", "phone"), typed("Fax", "Account Fax", "phone"),
			str("AccountNumber", "Account Number", 40), typed("Website", "Website", "url"),
			str("Sic", "SIC Code", 20), pick("Industry", "Industry", false, industries...),
			number("AnnualRevenue", "Annual Revenue", "currency", 18, 0),
			number("NumberOfEmployees", "Employees", "int", 8, 0),
			pick("Ownership", "Ownership", false, "Public", "Private", "Subsidiary", "Other"),
			str("TickerSymbol", "Ticker Symbol", 20), text("Description", "Account Description", 32000),
			pick("Rating", "Account Rating", false, ratings...), str("Site", "Account Site", 80),
			ownerField(), pick("AccountSource", "Account Source", false, sources...),
		},
		auditFields(),
		[]Field{readOnly(typed("LastActivityDate", "Last Activity", "date"))},
	)}
	contact := Object{Name: "Contact", Label: "Contact", LabelPlural: "Contacts", KeyPrefix: "003", Fields: concat(
		[]Field{idField(), isDeleted(),
			readOnly(ref("MasterRecordId", "Master Record ID", "MasterRecord", "Contact")),
			ref("AccountId", "Account ID", "Account", "Account"),
			required(str("LastName", "Last Name", 80)), str("FirstName", "First Name", 40),
			pick("Salutation", "Salutation", false, salutations...),
			{Name: "Name", Label: "Full Name", Type: "string", Length: 121, Calculated: true, NameField: true},
		},
		address("Other", "Other"), address("Mailing", "Mailing"),
		[]Field{
			typed("Phone", "Business Phone", "phone"), typed("Fax", "Business Fax", "phone"),
			typed("MobilePhone", "Mobile Phone", "phone"), typed("HomePhone", "Home Phone", "phone"),
			typed("OtherPhone", "Other Phone", "phone"), typed("AssistantPhone", "Asst. Phone", "phone"),
			ref("ReportsToId", "Reports To ID", "ReportsTo", "Contact"),
			typed("Email", "Email", "email"), str("Title", "Title", 128), str("Department", "Department", 80),
			str("AssistantName", "Assistant's Name", 40), pick("LeadSource", "Lead Source", false, sources...),
			typed("Birthdate", "Birthdate", "date"), text("Description", "Contact Description", 32000),
			ownerField(), typed("HasOptedOutOfEmail", "Email Opt Out", "boolean"),
			typed("DoNotCall", "Do Not Call", "boolean"),
		},
		auditFields(),
		[]Field{readOnly(typed("LastActivityDate", "Last Activity", "date")),
			readOnly(typed("EmailBouncedDate", "Email Bounced Date", "datetime"))},
	)}
	leadStatus := Field{Name: "Status", Label: "Status", Type: "picklist", Required: true, Defaulted: true,
		Picklist: []string{"Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"}, DefaultValue: "Open - Not Contacted"}
	lead := Object{Name: "Lead", Label: "Lead", LabelPlural: "Leads", KeyPrefix: "00Q", Fields: concat(
		[]Field{idField(), isDeleted(),
			required(str("LastName", "Last Name", 80)), str("FirstName", "First Name", 40),
			pick("Salutation", "Salutation", false, salutations...),
			{Name: "Name", Label: "Full Name", Type: "string", Length: 121, Calculated: true, NameField: true},
			str("Title", "Title", 128), required(str("Company", "Company", 255)),
		},
		address("", ""),
		[]Field{
			typed("Phone", "Phone", "phone"), typed("MobilePhone", "Mobile Phone", "phone"), typed("Fax", "Fax", "phone"),
			typed("Email", "Email", "email"), typed("Website", "Website", "url"),
			text("Description", "Description", 32000), pick("LeadSource", "Lead Source", false, sources...),
			leadStatus, pick("Industry", "Industry", false, industries...), pick("Rating", "Rating", false, ratings...),
			number("AnnualRevenue", "Annual Revenue", "currency", 18, 0), number("NumberOfEmployees", "Employees", "int", 8, 0),
			ownerField(), readOnly(typed("IsConverted", "Converted", "boolean")),
			readOnly(typed("ConvertedDate", "Converted Date", "date")),
			readOnly(ref("ConvertedAccountId", "Converted Account ID", "ConvertedAccount", "Account")),
			readOnly(ref("ConvertedContactId", "Converted Contact ID", "ConvertedContact", "Contact")),
			readOnly(ref("ConvertedOpportunityId", "Converted Opportunity ID", "ConvertedOpportunity", "Opportunity")),
			typed("IsUnreadByOwner", "Unread By Owner", "boolean"),
		},
		auditFields(),
	)}
	stage := Field{Name: "StageName", Label: "Stage", Type: "picklist", Required: true, Picklist: []string{
		"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
		"Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}}
	opportunity := Object{Name: "Opportunity", Label: "Opportunity", LabelPlural: "Opportunities", KeyPrefix: "006", Fields: concat(
		[]Field{idField(), isDeleted(),
			ref("AccountId", "Account ID", "Account", "Account"), typed("IsPrivate", "Private", "boolean"),
			{Name: "Name", Label: "Name", Type: "string", Length: 120, Required: true, NameField: true},
			text("Description", "Description", 32000), stage,
			number("Amount", "Amount", "currency", 18, 2), number("Probability", "Probability (%)", "percent", 3, 0),
			{Name: "ExpectedRevenue", Label: "Expected Amount", Type: "currency", Precision: 18, Scale: 2, Calculated: true},
			number("TotalOpportunityQuantity", "Quantity", "double", 18, 2),
			required(typed("CloseDate", "Close Date", "date")),
			pick("Type", "Opportunity Type", false, "Existing Customer - Upgrade", "Existing Customer - Replacement", "Existing Customer - Downgrade", "New Customer"),
			str("NextStep", "Next Step", 255), pick("LeadSource", "Lead Source", false, sources...),
			readOnly(typed("IsClosed", "Closed", "boolean")), readOnly(typed("IsWon", "Won", "boolean")),
			{Name: "ForecastCategoryName", Label: "Forecast Category", Type: "picklist", Defaulted: true,
				Picklist: []string{"Omitted", "Pipeline", "Best Case", "Commit", "Closed"}, DefaultValue: "Pipeline"},
			ownerField(),
		},
		auditFields(),
		[]Field{readOnly(typed("LastActivityDate", "Last Activity", "date")),
			readOnly(number("FiscalQuarter", "Fiscal Quarter", "int", 2, 0)), readOnly(number("FiscalYear", "Fiscal Year", "int", 4, 0))},
	)}
	user := Object{Name: "User", Label: "User", LabelPlural: "Users", KeyPrefix: "005", NotDeletable: true, Fields: concat(
		[]Field{idField(),
			{Name: "Username", Label: "Username", Type: "string", Length: 80, Required: true, Unique: true},
			required(str("LastName", "Last Name", 80)), str("FirstName", "First Name", 40),
			{Name: "Name", Label: "Full Name", Type: "string", Length: 121, Calculated: true, NameField: true},
			str("CompanyName", "Company Name", 80), str("Division", "Division", 80), str("Department", "Department", 80),
			str("Title", "Title", 80), required(typed("Email", "Email", "email")),
			required(str("Alias", "Alias", 8)), {Name: "CommunityNickname", Label: "Nickname", Type: "string", Length: 40, Defaulted: true},
			typed("IsActive", "Active", "boolean"), typed("Phone", "Phone", "phone"), typed("MobilePhone", "Mobile", "phone"),
			{Name: "TimeZoneSidKey", Label: "Time Zone", Type: "picklist", Required: true, Picklist: []string{"America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Paris", "Asia/Tokyo", "GMT"}},
			{Name: "LocaleSidKey", Label: "Locale", Type: "picklist", Required: true, Picklist: []string{"en_US", "en_GB", "fr_FR", "de_DE", "ja_JP"}},
			{Name: "EmailEncodingKey", Label: "Email Encoding", Type: "picklist", Required: true, Picklist: []string{"UTF-8", "ISO-8859-1", "Shift_JIS"}},
			{Name: "LanguageLocaleKey", Label: "Language", Type: "picklist", Required: true, Picklist: []string{"en_US", "fr", "de", "ja"}},
			required(ref("ProfileId", "Profile ID", "Profile", "Profile")),
			ref("ManagerId", "Manager ID", "Manager", "User"),
		},
		auditFields(),
	)}
	return []Object{account, contact, lead, opportunity, user}
}

func concat(parts ...[]Field) []Field {
	var out []Field
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
