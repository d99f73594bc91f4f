package hubspottest

import (
	"net/http"
	"time"
)

// epoch is when the emulator's built-in definitions claim to have been made.
var epoch = time.Date(2019, 8, 6, 2, 43, 14, 0, time.UTC)

// wireProperty is a property as the properties API sends it.
type wireProperty struct {
	Property
	DisplayOrder         int                  `json:"displayOrder"`
	FormField            bool                 `json:"formField"`
	ExternalOptions      bool                 `json:"externalOptions"`
	ModificationMetadata modificationMetadata `json:"modificationMetadata"`
	DataSensitivity      string               `json:"dataSensitivity"`
	Archived             bool                 `json:"archived"`
	CreatedAt            string               `json:"createdAt"`
	UpdatedAt            string               `json:"updatedAt"`
}

type modificationMetadata struct {
	Archivable         bool `json:"archivable"`
	ReadOnlyDefinition bool `json:"readOnlyDefinition"`
	ReadOnlyValue      bool `json:"readOnlyValue"`
	ReadOnlyOptions    bool `json:"readOnlyOptions,omitempty"`
}

func (ot *objectType) wireProperty(p *Property, order int) wireProperty {
	wp := wireProperty{
		Property:        *p,
		DisplayOrder:    order,
		FormField:       !ot.readOnlyProp(p),
		DataSensitivity: "non_sensitive",
		CreatedAt:       formatTime(epoch),
		UpdatedAt:       formatTime(epoch),
		ModificationMetadata: modificationMetadata{
			Archivable:         !p.HubspotDefined,
			ReadOnlyDefinition: p.HubspotDefined,
			ReadOnlyValue:      ot.readOnlyProp(p),
		},
	}
	if wp.Options == nil {
		wp.Options = []EnumOption{}
	}
	return wp
}

func (s *Server) propertiesRoute(method, typeName string, rest []string) route {
	ot, e := s.objectType(typeName)
	if e != nil {
		return route{handle: func(http.ResponseWriter, *http.Request) *apiError { return e }}
	}
	if method != http.MethodGet {
		return methodNotAllowed(method)
	}
	switch len(rest) {
	case 0:
		return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError {
			archived, e := boolParam(r.URL.Query(), "archived")
			if e != nil {
				return e
			}
			out := struct {
				Results []wireProperty `json:"results"`
			}{Results: []wireProperty{}}
			if !archived { // the emulator never archives a property
				for i, p := range ot.props {
					out.Results = append(out.Results, ot.wireProperty(p, i))
				}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}}
	case 1:
		name := rest[0]
		return route{handle: func(w http.ResponseWriter, _ *http.Request) *apiError {
			for i, p := range ot.props {
				if p.Name == name {
					writeJSON(w, http.StatusOK, ot.wireProperty(p, i))
					return nil
				}
			}
			return newError(http.StatusNotFound, catNotFound, "Unable to find property %s for object type %s", clip(name), ot.typeID)
		}}
	}
	return route{handle: func(http.ResponseWriter, *http.Request) *apiError {
		return newError(http.StatusNotFound, catNotFound, "No such properties route")
	}}
}

// wireSchema is an object schema as the schemas API sends it.
type wireSchema struct {
	ID                         string         `json:"id"`
	ObjectTypeID               string         `json:"objectTypeId"`
	FullyQualifiedName         string         `json:"fullyQualifiedName"`
	Name                       string         `json:"name"`
	Labels                     map[string]any `json:"labels"`
	PrimaryDisplayProperty     string         `json:"primaryDisplayProperty,omitempty"`
	SecondaryDisplayProperties []string       `json:"secondaryDisplayProperties"`
	RequiredProperties         []string       `json:"requiredProperties"`
	SearchableProperties       []string       `json:"searchableProperties"`
	Properties                 []wireProperty `json:"properties"`
	Associations               []any          `json:"associations"`
	CreatedAt                  string         `json:"createdAt"`
	UpdatedAt                  string         `json:"updatedAt"`
	Archived                   bool           `json:"archived"`
}

func (ot *objectType) wireSchema() wireSchema {
	ws := wireSchema{
		ID: ot.typeID[2:], ObjectTypeID: ot.typeID, FullyQualifiedName: ot.fqn, Name: ot.name,
		Labels:                     map[string]any{"singular": ot.singular, "plural": ot.plural},
		PrimaryDisplayProperty:     ot.primary,
		SecondaryDisplayProperties: []string{},
		RequiredProperties:         append([]string{}, ot.requiredP...),
		SearchableProperties:       append([]string{}, ot.search...),
		Associations:               []any{},
		CreatedAt:                  formatTime(epoch), UpdatedAt: formatTime(epoch),
	}
	for i, p := range ot.props {
		ws.Properties = append(ws.Properties, ot.wireProperty(p, i))
	}
	return ws
}

// schemasRoute serves the custom-object schemas API (reads only).
func (s *Server) schemasRoute(method string, rest []string) route {
	if method != http.MethodGet {
		return methodNotAllowed(method)
	}
	switch len(rest) {
	case 0:
		return route{handle: func(w http.ResponseWriter, _ *http.Request) *apiError {
			out := struct {
				Results []wireSchema `json:"results"`
			}{Results: []wireSchema{}}
			for _, ot := range s.types {
				if ot.custom {
					out.Results = append(out.Results, ot.wireSchema())
				}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}}
	case 1:
		return route{handle: func(w http.ResponseWriter, _ *http.Request) *apiError {
			ot, e := s.objectType(rest[0])
			if e != nil || !ot.custom {
				return newError(http.StatusNotFound, catNotFound, "Unable to find object schema %s", clip(rest[0]))
			}
			writeJSON(w, http.StatusOK, ot.wireSchema())
			return nil
		}}
	}
	return methodNotAllowed(method)
}
