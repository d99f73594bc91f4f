// Package mapping will hold crmkit's field maps: pairs of application and CRM
// objects, field rules with direction and conversion, masking of personal
// data, and checks of both schemas at start-up.
//
// It is not built yet; it is planned to work on crm.Fields and crm.Schema
// values, whose value kinds (crm.Decimal, crm.Date, []string, ...) are already
// fixed by the crm package.
package mapping
