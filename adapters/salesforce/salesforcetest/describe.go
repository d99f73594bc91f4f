package salesforcetest

import (
	"net/http"
	"strings"
	"time"
)

func (s *Server) objectURLs(version string, o *object) map[string]string {
	base := "/services/data/v" + version + "/sobjects/" + o.Name
	return map[string]string{
		"compactLayouts":   base + "/describe/compactLayouts",
		"rowTemplate":      base + "/{ID}",
		"approvalLayouts":  base + "/describe/approvalLayouts",
		"uiDetailTemplate": "https://crmkit.emulator/{ID}",
		"uiEditTemplate":   "https://crmkit.emulator/{ID}/e",
		"defaultValues":    base + "/defaultValues?recordTypeId&fields",
		"describe":         base + "/describe",
		"uiNewRecord":      "https://crmkit.emulator/" + o.KeyPrefix + "/e",
		"quickActions":     base + "/quickActions",
		"layouts":          base + "/describe/layouts",
		"sobject":          base,
	}
}

// objectFlags are the object-level properties describe-global and
// describe share.
func (s *Server) objectFlags(version string, o *object) map[string]any {
	std := !o.custom
	return map[string]any{
		"activateable":          false,
		"associateEntityType":   nil,
		"associateParentEntity": nil,
		"createable":            true,
		"custom":                o.custom,
		"customSetting":         false,
		"deepCloneable":         false,
		"deletable":             !o.NotDeletable,
		"deprecatedAndHidden":   false,
		"feedEnabled":           std,
		"hasSubtypes":           false,
		"isInterface":           false,
		"isSubtype":             false,
		"keyPrefix":             o.KeyPrefix,
		"label":                 o.Label,
		"labelPlural":           o.LabelPlural,
		"layoutable":            true,
		"mergeable":             o.Name == "Account" || o.Name == "Contact" || o.Name == "Lead",
		"mruEnabled":            true,
		"name":                  o.Name,
		"queryable":             true,
		"replicateable":         true,
		"retrieveable":          true,
		"searchable":            true,
		"triggerable":           true,
		"undeletable":           !o.NotDeletable,
		"updateable":            true,
		"urls":                  s.objectURLs(version, o),
	}
}

func (s *Server) serveDescribeGlobal(w http.ResponseWriter, r *http.Request, c call) *failure {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, r.Method, "GET", "HEAD")
	}
	objs := s.objectList()
	list := make([]map[string]any, len(objs))
	for i, o := range objs {
		list[i] = s.objectFlags(c.version, o)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": MaxCollectionSize, "sobjects": list})
	return nil
}

func (s *Server) serveDescribe(w http.ResponseWriter, r *http.Request, c call) *failure {
	o, ok := s.object(c.segs[1])
	if !ok {
		return notFound()
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if c.route == "sobject.basic" {
			return methodNotAllowed(w, r.Method, "GET", "HEAD", "POST")
		}
		return methodNotAllowed(w, r.Method, "GET", "HEAD")
	}
	if c.route == "sobject.basic" {
		s.writeJSON(w, http.StatusOK, map[string]any{"objectDescribe": s.objectFlags(c.version, o), "recentItems": []any{}})
		return nil
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !o.modified.Truncate(time.Second).After(t) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	d := s.objectFlags(c.version, o)
	fields := make([]map[string]any, len(o.fields))
	for i, f := range o.fields {
		fields[i] = describeField(f)
	}
	d["fields"] = fields
	d["childRelationships"] = s.childRelationships(o)
	d["recordTypeInfos"] = []map[string]any{{
		"active": true, "available": true, "defaultRecordTypeMapping": true, "developerName": "Master",
		"master": true, "name": "Master", "recordTypeId": "012000000000000AAA",
		"urls": map[string]string{"layout": "/services/data/v" + c.version + "/sobjects/" + o.Name + "/describe/layouts/012000000000000AAA"},
	}}
	d["actionOverrides"] = []any{}
	d["namedLayoutInfos"] = []any{}
	d["supportedScopes"] = []map[string]string{{"label": "All " + strings.ToLower(o.LabelPlural), "name": "everything"}, {"label": "My " + strings.ToLower(o.LabelPlural), "name": "mine"}}
	d["compactLayoutable"] = true
	d["listviewable"] = nil
	d["lookupLayoutable"] = nil
	d["searchLayoutable"] = true
	d["sobjectDescribeOption"] = "FULL"
	d["defaultImplementation"] = nil
	d["extendedBy"] = nil
	d["extendsInterfaces"] = nil
	d["implementedBy"] = nil
	d["implementsInterfaces"] = nil
	d["networkScopeFieldName"] = nil
	w.Header().Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
	s.writeJSON(w, http.StatusOK, d)
	return nil
}

func describeField(f *field) map[string]any {
	byteLength, digits := 0, 0
	if isText(f.Type) || f.Type == "id" || f.Type == "reference" {
		byteLength = f.Length * 3
	}
	switch f.Type {
	case "int":
		digits = f.Precision
		if digits == 0 || digits > 9 {
			digits = 9
		}
	case "long":
		digits = 18
	}
	precision, scale := 0, 0
	if f.Type == "double" || f.Type == "currency" || f.Type == "percent" {
		precision, scale = f.Precision, f.Scale
	}
	length := 0
	if isText(f.Type) || f.Type == "id" || f.Type == "reference" {
		length = f.Length
	}
	picklist := []map[string]any{}
	for _, v := range f.Picklist {
		picklist = append(picklist, map[string]any{"active": true, "defaultValue": v == f.DefaultValue, "label": v, "validFor": nil, "value": v})
	}
	var defaultValue any
	if f.DefaultValue != "" {
		defaultValue = f.DefaultValue
	} else if f.Type == "boolean" && f.createable {
		defaultValue = false
	}
	refs := f.ReferenceTo
	if refs == nil {
		refs = []string{}
	}
	var rel any
	if f.RelationshipName != "" {
		rel = f.RelationshipName
	}
	filterable := f.filterable
	return map[string]any{
		"aggregatable":                 filterable && f.Type != "textarea",
		"aiPredictionField":            false,
		"autoNumber":                   false,
		"byteLength":                   byteLength,
		"calculated":                   f.Calculated,
		"calculatedFormula":            nil,
		"cascadeDelete":                false,
		"caseSensitive":                false,
		"compoundFieldName":            nil,
		"controllerName":               nil,
		"createable":                   f.createable,
		"custom":                       f.custom,
		"defaultValue":                 defaultValue,
		"defaultValueFormula":          nil,
		"defaultedOnCreate":            f.defaulted,
		"dependentPicklist":            false,
		"deprecatedAndHidden":          false,
		"digits":                       digits,
		"displayLocationInDecimal":     false,
		"encrypted":                    false,
		"externalId":                   f.ExternalID,
		"extraTypeInfo":                nil,
		"filterable":                   filterable,
		"filteredLookupInfo":           nil,
		"formulaTreatNullNumberAsZero": false,
		"groupable":                    filterable && f.Type != "textarea" && f.Type != "multipicklist",
		"highScaleNumber":              false,
		"htmlFormatted":                false,
		"idLookup":                     f.Type == "id" || f.ExternalID || f.Unique || f.Type == "email" && f.Unique,
		"inlineHelpText":               nil,
		"label":                        f.Label,
		"length":                       length,
		"mask":                         nil,
		"maskType":                     nil,
		"name":                         f.Name,
		"nameField":                    f.NameField,
		"namePointing":                 false,
		"nillable":                     f.nillable,
		"permissionable":               f.custom || f.nillable && f.createable,
		"picklistValues":               picklist,
		"polymorphicForeignKey":        false,
		"precision":                    precision,
		"queryByDistance":              false,
		"referenceTargetField":         nil,
		"referenceTo":                  refs,
		"relationshipName":             rel,
		"relationshipOrder":            nil,
		"restrictedDelete":             false,
		"restrictedPicklist":           (f.Type == "picklist" || f.Type == "multipicklist") && !f.Unrestricted,
		"scale":                        scale,
		"searchPrefilterable":          false,
		"soapType":                     soapType(f.Type),
		"sortable":                     f.sortable,
		"type":                         f.Type,
		"unique":                       f.Unique,
		"updateable":                   f.updateable,
		"writeRequiresMasterRead":      false,
	}
}

func (s *Server) childRelationships(parent *object) []map[string]any {
	out := []map[string]any{}
	for _, o := range s.objectList() {
		for _, f := range o.fields {
			if f.Type != "reference" || f.Name == "CreatedById" || f.Name == "LastModifiedById" || f.Name == "OwnerId" {
				continue
			}
			for _, t := range f.ReferenceTo {
				if !strings.EqualFold(t, parent.Name) {
					continue
				}
				rel := strings.ReplaceAll(o.LabelPlural, " ", "")
				if f.custom {
					rel = strings.ReplaceAll(o.LabelPlural, " ", "_") + "__r"
				}
				out = append(out, map[string]any{
					"cascadeDelete": false, "childSObject": o.Name, "deprecatedAndHidden": false, "field": f.Name,
					"junctionIdListNames": []string{}, "junctionReferenceTo": []string{}, "relationshipName": rel,
					"restrictedDelete": false,
				})
			}
		}
	}
	return out
}
