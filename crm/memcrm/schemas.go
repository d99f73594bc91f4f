package memcrm

import "github.com/crmkit/crmkit/crm"

// ContactSchema returns the sample Contact object: a person with a required
// LastName, a unique Email, an ExternalId to upsert on, and one field of each
// value kind crmkit carries. Each call returns a new copy.
func ContactSchema() *crm.Schema {
	return &crm.Schema{
		Object: "Contact", Label: "Contact", IDField: "Id", ModifiedField: "ModifiedAt",
		Fields: []crm.Field{
			idField("Contact ID"),
			text("FirstName", "First Name", crm.TypeString, 40),
			{Name: "LastName", Label: "Last Name", Type: crm.TypeString, NativeType: "string", Length: 80, Required: true, Createable: true, Updateable: true},
			unique(text("Email", "Email", crm.TypeEmail, 80)),
			text("Phone", "Phone", crm.TypePhone, 40),
			text("Title", "Title", crm.TypeString, 128),
			text("Description", "Description", crm.TypeText, 32000),
			value("Birthdate", "Birthdate", crm.TypeDate),
			value("Score", "Score", crm.TypeInt),
			{Name: "AnnualValue", Label: "Annual Value", Type: crm.TypeCurrency, NativeType: "currency", Precision: 18, Scale: 2, Nillable: true, Createable: true, Updateable: true},
			picklist("Status", "Status", crm.TypePicklist, "New", "Contacted", "Qualified", "Customer", "Lost"),
			picklist("Interests", "Interests", crm.TypeMultiPicklist, "Software", "Hardware", "Services", "Training"),
			externalID(),
			{Name: "AccountId", Label: "Account ID", Type: crm.TypeReference, NativeType: "reference", Length: 64, Nillable: true, Createable: true, Updateable: true, References: []string{"Account"}},
			stamp("CreatedAt", "Created At"),
			stamp("ModifiedAt", "Modified At"),
		},
	}
}

// AccountSchema returns the sample Account object: an organisation with a
// required Name and an ExternalId to upsert on. Each call returns a new copy.
func AccountSchema() *crm.Schema {
	return &crm.Schema{
		Object: "Account", Label: "Account", IDField: "Id", ModifiedField: "ModifiedAt",
		Fields: []crm.Field{
			idField("Account ID"),
			{Name: "Name", Label: "Account Name", Type: crm.TypeString, NativeType: "string", Length: 255, Required: true, Createable: true, Updateable: true},
			text("Website", "Website", crm.TypeURL, 255),
			picklist("Industry", "Industry", crm.TypePicklist, "Technology", "Finance", "Healthcare", "Retail", "Other"),
			{Name: "AnnualRevenue", Label: "Annual Revenue", Type: crm.TypeCurrency, NativeType: "currency", Precision: 18, Scale: 2, Nillable: true, Createable: true, Updateable: true},
			value("NumberOfEmployees", "Employees", crm.TypeInt),
			value("Active", "Active", crm.TypeBool),
			text("Description", "Description", crm.TypeText, 32000),
			externalID(),
			stamp("CreatedAt", "Created At"),
			stamp("ModifiedAt", "Modified At"),
		},
	}
}

func idField(label string) crm.Field {
	return crm.Field{Name: "Id", Label: label, Type: crm.TypeID, NativeType: "id", Length: 64, Unique: true}
}

func text(name, label string, t crm.FieldType, length int) crm.Field {
	return crm.Field{Name: name, Label: label, Type: t, NativeType: string(t), Length: length, Nillable: true, Createable: true, Updateable: true}
}

func value(name, label string, t crm.FieldType) crm.Field {
	return crm.Field{Name: name, Label: label, Type: t, NativeType: string(t), Nillable: true, Createable: true, Updateable: true}
}

func unique(f crm.Field) crm.Field {
	f.Unique = true
	return f
}

func picklist(name, label string, t crm.FieldType, values ...string) crm.Field {
	f := value(name, label, t)
	for _, v := range values {
		f.Picklist = append(f.Picklist, crm.PicklistValue{Value: v, Label: v, Active: true})
	}
	return f
}

func externalID() crm.Field {
	f := text("ExternalId", "External ID", crm.TypeString, 64)
	f.ExternalID, f.Unique = true, true
	return f
}

func stamp(name, label string) crm.Field {
	return crm.Field{Name: name, Label: label, Type: crm.TypeDateTime, NativeType: "datetime"}
}
