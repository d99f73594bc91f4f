package dynamicstest

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// AttributeType is the type of a Dataverse column, as EntityDefinitions
// names it in AttributeType (MultiSelectPicklist, which Dataverse reports as
// a Virtual column of AttributeTypeName MultiSelectPicklistType, has its own
// constant here).
type AttributeType string

// The column types the emulator stores.
const (
	String              AttributeType = "String"
	Memo                AttributeType = "Memo"
	Integer             AttributeType = "Integer"
	BigInt              AttributeType = "BigInt"
	Decimal             AttributeType = "Decimal"
	Double              AttributeType = "Double"
	Money               AttributeType = "Money"
	Boolean             AttributeType = "Boolean"
	DateTime            AttributeType = "DateTime"
	Picklist            AttributeType = "Picklist"
	MultiSelectPicklist AttributeType = "MultiSelectPicklist"
	State               AttributeType = "State"
	Status              AttributeType = "Status"
	Lookup              AttributeType = "Lookup"
	Customer            AttributeType = "Customer"
	Owner               AttributeType = "Owner"
	Uniqueidentifier    AttributeType = "Uniqueidentifier"
)

// RequiredLevel is a column's RequiredLevel. Like Dataverse, the emulator
// enforces only SystemRequired; ApplicationRequired is a hint to forms and
// to crmkit's schema checks.
type RequiredLevel string

// The required levels.
const (
	None                RequiredLevel = "None"
	Recommended         RequiredLevel = "Recommended"
	ApplicationRequired RequiredLevel = "ApplicationRequired"
	SystemRequired      RequiredLevel = "SystemRequired"
)

// The DateTimeBehavior values of a DateTime column.
const (
	UserLocal           = "UserLocal"
	DateOnly            = "DateOnly"
	TimeZoneIndependent = "TimeZoneIndependent"
)

// Table declares one table of the emulated environment, with what
// EntityDefinitions reports about it. Zero fields get Dataverse's defaults:
// SchemaName is the logical name, EntitySetName the logical name plus "s",
// PrimaryIDAttribute the logical name plus "id". Every table also gets the
// system columns createdon, modifiedon, createdby and modifiedby.
type Table struct {
	LogicalName          string
	SchemaName           string
	EntitySetName        string
	DisplayName          string
	PrimaryIDAttribute   string
	PrimaryNameAttribute string
	ObjectTypeCode       int
	Custom               bool
	// ChangeTracking turns on change tracking (Prefer: odata.track-changes
	// and delta links) for the table.
	ChangeTracking bool
	Attributes     []Attribute
	// Keys are the table's alternate keys. The emulator supports keys of
	// one column, which is what crm.Write's upsert needs.
	Keys []Key
}

// Attribute declares one column.
type Attribute struct {
	LogicalName string
	SchemaName  string // defaults to LogicalName
	DisplayName string
	Type        AttributeType
	// Format is the StringAttributeMetadata FormatName: Text (default),
	// Email, Phone, Url, TextArea.
	Format    string
	MaxLength int // String and Memo; 100 and 2000 by default
	Precision int // Decimal and Money digits after the point; 2 by default
	Required  RequiredLevel
	// ReadOnly columns are neither valid for create nor for update.
	ReadOnly bool
	// CreateOnly columns are valid for create only.
	CreateOnly bool
	// DateTimeBehavior is UserLocal (default), DateOnly or
	// TimeZoneIndependent, for DateTime columns.
	DateTimeBehavior string
	// Options are the choices of a Picklist, MultiSelectPicklist, State or
	// Status column, with their numeric values.
	Options []Choice
	// DefaultOption is the value a Picklist, State or Status column takes
	// when a create leaves it out. A value that is not one of Options (such
	// as -1) means none.
	DefaultOption int
	// Targets are the tables a Lookup may point to.
	Targets []string
	// NavigationProperty is the single-valued navigation property that a
	// write binds with "<nav>@odata.bind". It defaults to the logical name
	// for standard columns and to the SchemaName for custom ones, as in
	// Dataverse (so custom ones are case sensitive: crmkit_AccountId).
	NavigationProperty string
	Custom             bool
}

// Choice is one value of an option set (a "choice" in Power Apps): its number and label.
type Choice struct {
	Value int
	Label string
	State int // for Status options: the statecode they belong to
}

// Key is an alternate key.
type Key struct {
	LogicalName string
	Attributes  []string
}

// SeedTables returns the tables a new Server has: account, contact, lead,
// opportunity and systemuser as in a fresh Dataverse environment (with the
// columns integrations use most), plus crmkit_project, a custom table of
// the publisher prefix crmkit_. Change tracking is on for account and
// contact. contact and crmkit_project have an alternate key of one custom
// column, account one on accountnumber. Each call returns new values.
func SeedTables() []Table {
	stateOpts := []Choice{{Value: 0, Label: "Active"}, {Value: 1, Label: "Inactive"}}
	statusOpts := []Choice{{Value: 1, Label: "Active", State: 0}, {Value: 2, Label: "Inactive", State: 1}}
	state := Attribute{LogicalName: "statecode", DisplayName: "Status", Type: State, Options: stateOpts, DefaultOption: 0}
	status := Attribute{LogicalName: "statuscode", DisplayName: "Status Reason", Type: Status, Options: statusOpts, DefaultOption: 1}
	str := func(name, label string, n int) Attribute {
		return Attribute{LogicalName: name, DisplayName: label, Type: String, MaxLength: n}
	}
	email := func(name, label string) Attribute {
		a := str(name, label, 100)
		a.Format = "Email"
		return a
	}
	phone := func(name, label string) Attribute {
		a := str(name, label, 50)
		a.Format = "Phone"
		return a
	}
	memo := func(name, label string) Attribute {
		return Attribute{LogicalName: name, DisplayName: label, Type: Memo, MaxLength: 2000}
	}
	typed := func(name, label string, t AttributeType) Attribute {
		return Attribute{LogicalName: name, DisplayName: label, Type: t}
	}
	dateOnly := func(name, label string) Attribute {
		a := typed(name, label, DateTime)
		a.DateTimeBehavior = DateOnly
		return a
	}
	pick := func(name, label string, def int, opts ...Choice) Attribute {
		return Attribute{LogicalName: name, DisplayName: label, Type: Picklist, Options: opts, DefaultOption: def}
	}
	lookup := func(name, label string, targets ...string) Attribute {
		return Attribute{LogicalName: name, DisplayName: label, Type: Lookup, Targets: targets}
	}
	required := func(a Attribute) Attribute {
		a.Required = ApplicationRequired
		return a
	}
	return []Table{
		{
			LogicalName: "account", SchemaName: "Account", EntitySetName: "accounts", DisplayName: "Account",
			PrimaryNameAttribute: "name", ObjectTypeCode: 1, ChangeTracking: true,
			Attributes: []Attribute{
				required(str("name", "Account Name", 160)),
				str("accountnumber", "Account Number", 20),
				memo("description", "Description"),
				phone("telephone1", "Main Phone"),
				email("emailaddress1", "Email"),
				func() Attribute { a := str("websiteurl", "Website", 200); a.Format = "Url"; return a }(),
				typed("revenue", "Annual Revenue", Money),
				typed("numberofemployees", "Number of Employees", Integer),
				typed("creditonhold", "Credit Hold", Boolean),
				pick("industrycode", "Industry", -1,
					Choice{Value: 1, Label: "Accounting"}, Choice{Value: 2, Label: "Agriculture and Non-petrol Natural Resource Extraction"},
					Choice{Value: 3, Label: "Broadcasting Printing and Publishing"}, Choice{Value: 4, Label: "Brokers"},
					Choice{Value: 7, Label: "Consulting"}, Choice{Value: 33, Label: "Retail"}),
				pick("accountcategorycode", "Category", -1, Choice{Value: 1, Label: "Preferred Customer"}, Choice{Value: 2, Label: "Standard"}),
				lookup("primarycontactid", "Primary Contact", "contact"),
				lookup("parentaccountid", "Parent Account", "account"),
				state, status,
			},
			Keys: []Key{{LogicalName: "accountnumber_key", Attributes: []string{"accountnumber"}}},
		},
		{
			LogicalName: "contact", SchemaName: "Contact", EntitySetName: "contacts", DisplayName: "Contact",
			PrimaryNameAttribute: "lastname", ObjectTypeCode: 2, ChangeTracking: true,
			Attributes: []Attribute{
				str("firstname", "First Name", 50),
				required(str("lastname", "Last Name", 50)),
				email("emailaddress1", "Email"),
				phone("telephone1", "Business Phone"),
				str("jobtitle", "Job Title", 100),
				memo("description", "Description"),
				dateOnly("birthdate", "Birthday"),
				dateOnly("anniversary", "Anniversary"),
				typed("numberofchildren", "No. of Children", Integer),
				typed("creditlimit", "Credit Limit", Money),
				typed("donotemail", "Do not allow Emails", Boolean),
				pick("preferredcontactmethodcode", "Preferred Method of Contact", 1,
					Choice{Value: 1, Label: "Any"}, Choice{Value: 2, Label: "Email"}, Choice{Value: 3, Label: "Phone"},
					Choice{Value: 4, Label: "Fax"}, Choice{Value: 5, Label: "Mail"}),
				pick("gendercode", "Gender", -1, Choice{Value: 1, Label: "Male"}, Choice{Value: 2, Label: "Female"}),
				lookup("parentcustomerid", "Company Name", "account"),
				{LogicalName: "crmkit_externalid", SchemaName: "crmkit_ExternalId", DisplayName: "External ID", Type: String, MaxLength: 100, Custom: true},
				{LogicalName: "crmkit_interests", SchemaName: "crmkit_Interests", DisplayName: "Interests", Type: MultiSelectPicklist, Custom: true,
					Options: []Choice{{Value: 100000000, Label: "Software"}, {Value: 100000001, Label: "Hardware"}, {Value: 100000002, Label: "Services"}}},
				state, status,
			},
			Keys: []Key{{LogicalName: "crmkit_externalid_key", Attributes: []string{"crmkit_externalid"}}},
		},
		{
			LogicalName: "lead", SchemaName: "Lead", EntitySetName: "leads", DisplayName: "Lead",
			PrimaryNameAttribute: "subject", ObjectTypeCode: 4,
			Attributes: []Attribute{
				str("subject", "Topic", 300),
				str("firstname", "First Name", 50),
				required(str("lastname", "Last Name", 50)),
				str("companyname", "Company Name", 100),
				email("emailaddress1", "Email"),
				memo("description", "Description"),
				typed("estimatedvalue", "Est. Value", Money),
				dateOnly("estimatedclosedate", "Est. Close Date"),
				pick("leadsourcecode", "Lead Source", -1, Choice{Value: 1, Label: "Advertisement"}, Choice{Value: 2, Label: "Employee Referral"},
					Choice{Value: 3, Label: "External Referral"}, Choice{Value: 8, Label: "Web"}),
				state, status,
			},
		},
		{
			LogicalName: "opportunity", SchemaName: "Opportunity", EntitySetName: "opportunities", DisplayName: "Opportunity",
			PrimaryNameAttribute: "name", ObjectTypeCode: 3,
			Attributes: []Attribute{
				required(str("name", "Topic", 300)),
				memo("description", "Description"),
				typed("estimatedvalue", "Est. Revenue", Money),
				dateOnly("estimatedclosedate", "Est. Close Date"),
				dateOnly("actualclosedate", "Actual Close Date"),
				typed("closeprobability", "Probability", Integer),
				lookup("parentaccountid", "Account", "account"),
				state, status,
			},
		},
		{
			LogicalName: "systemuser", SchemaName: "SystemUser", EntitySetName: "systemusers", DisplayName: "User",
			PrimaryNameAttribute: "fullname", ObjectTypeCode: 8,
			Attributes: []Attribute{
				required(str("fullname", "Full Name", 200)),
				str("domainname", "User Name", 1024),
				email("internalemailaddress", "Primary Email"),
				typed("azureactivedirectoryobjectid", "Azure AD Object ID", Uniqueidentifier),
				str("applicationid", "Application ID", 100),
				typed("isdisabled", "User Status", Boolean),
			},
		},
		{
			LogicalName: "crmkit_project", SchemaName: "crmkit_Project", EntitySetName: "crmkit_projects", DisplayName: "Project",
			PrimaryNameAttribute: "crmkit_name", ObjectTypeCode: 10001, Custom: true,
			Attributes: []Attribute{
				{LogicalName: "crmkit_name", SchemaName: "crmkit_Name", DisplayName: "Name", Type: String, MaxLength: 100, Required: ApplicationRequired, Custom: true},
				{LogicalName: "crmkit_code", SchemaName: "crmkit_Code", DisplayName: "Code", Type: String, MaxLength: 40, Custom: true},
				{LogicalName: "crmkit_notes", SchemaName: "crmkit_Notes", DisplayName: "Notes", Type: Memo, MaxLength: 4000, Custom: true},
				{LogicalName: "crmkit_budget", SchemaName: "crmkit_Budget", DisplayName: "Budget", Type: Money, Custom: true},
				{LogicalName: "crmkit_hours", SchemaName: "crmkit_Hours", DisplayName: "Hours", Type: Integer, Custom: true},
				{LogicalName: "crmkit_rate", SchemaName: "crmkit_Rate", DisplayName: "Rate", Type: Decimal, Precision: 4, Custom: true},
				{LogicalName: "crmkit_startdate", SchemaName: "crmkit_StartDate", DisplayName: "Start Date", Type: DateTime, DateTimeBehavior: DateOnly, Custom: true},
				{LogicalName: "crmkit_kickoff", SchemaName: "crmkit_Kickoff", DisplayName: "Kick-off", Type: DateTime, DateTimeBehavior: TimeZoneIndependent, Custom: true},
				{LogicalName: "crmkit_status", SchemaName: "crmkit_Status", DisplayName: "Project Status", Type: Picklist, Custom: true, DefaultOption: 100000000,
					Options: []Choice{{Value: 100000000, Label: "Planned"}, {Value: 100000001, Label: "Active"}, {Value: 100000002, Label: "Done"}}},
				{LogicalName: "crmkit_accountid", SchemaName: "crmkit_AccountId", DisplayName: "Account", Type: Lookup, Targets: []string{"account"}, Custom: true},
				state, status,
			},
			Keys: []Key{{LogicalName: "crmkit_code_key", Attributes: []string{"crmkit_code"}}},
		},
	}
}

// metadataID returns a stable GUID for a metadata item, so that MetadataIds
// stay the same from one run to the next, as they do in a real environment.
func metadataID(parts ...string) string {
	sum := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}
