package hubspottest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// assocType is one association type between two records.
type assocType struct {
	Category string  `json:"category"`
	TypeID   int     `json:"typeId"`
	Label    *string `json:"label"`
}

// assocDef is a HubSpot-defined association type: its id, the pair of
// object types it links, and the id of the same link seen from the other
// side.
type assocDef struct {
	id       int
	from, to string
	inverse  int
	primary  bool
	name     string
}

// hubspotDefined are the association types crmkit relies on, with
// HubSpot's ids. The unlabeled (default) type of a pair comes first.
var hubspotDefined = []assocDef{
	{279, "contacts", "companies", 280, false, "contact_to_company_unlabeled"},
	{280, "companies", "contacts", 279, false, "company_to_contact_unlabeled"},
	{1, "contacts", "companies", 2, true, "contact_to_company"},
	{2, "companies", "contacts", 1, true, "company_to_contact"},
	{341, "deals", "companies", 342, false, "deal_to_company_unlabeled"},
	{342, "companies", "deals", 341, false, "company_to_deal_unlabeled"},
	{5, "deals", "companies", 6, true, "deal_to_company"},
	{6, "companies", "deals", 5, true, "company_to_deal"},
	{4, "contacts", "deals", 3, false, "contact_to_deal"},
	{3, "deals", "contacts", 4, false, "deal_to_contact"},
	{15, "contacts", "tickets", 16, false, "contact_to_ticket"},
	{16, "tickets", "contacts", 15, false, "ticket_to_contact"},
	{27, "tickets", "deals", 28, false, "ticket_to_deal"},
	{28, "deals", "tickets", 27, false, "deal_to_ticket"},
}

func defByID(id int) (assocDef, bool) {
	for _, d := range hubspotDefined {
		if d.id == id {
			return d, true
		}
	}
	return assocDef{}, false
}

func defaultDef(from, to string) (assocDef, bool) {
	for _, d := range hubspotDefined {
		if d.from == from && d.to == to {
			return d, true
		}
	}
	return assocDef{}, false
}

type assocKey struct {
	fromType, fromID, toType string
}

// associations holds the links between records, both directions.
type associations struct {
	mu    sync.Mutex
	links map[assocKey]map[string][]assocType // to id -> types
}

func newAssociations() *associations {
	return &associations{links: map[assocKey]map[string][]assocType{}}
}

func (a *associations) add(fromType, fromID, toType, toID string, t assocType) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addLocked(fromType, fromID, toType, toID, t)
	inv := t
	if d, ok := defByID(t.TypeID); ok && t.Category == "HUBSPOT_DEFINED" {
		inv.TypeID = d.inverse
	}
	a.addLocked(toType, toID, fromType, fromID, inv)
}

func (a *associations) addLocked(fromType, fromID, toType, toID string, t assocType) {
	k := assocKey{fromType, fromID, toType}
	m := a.links[k]
	if m == nil {
		m = map[string][]assocType{}
		a.links[k] = m
	}
	if !slices.ContainsFunc(m[toID], func(x assocType) bool { return x.TypeID == t.TypeID && x.Category == t.Category }) {
		m[toID] = append(m[toID], t)
	}
}

// remove drops every link between two records, both directions.
func (a *associations) remove(fromType, fromID, toType, toID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.links[assocKey{fromType, fromID, toType}], toID)
	delete(a.links[assocKey{toType, toID, fromType}], fromID)
}

// dropRecord removes an archived record's links.
func (a *associations) dropRecord(typ, id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, m := range a.links {
		if k.fromType == typ && k.fromID == id {
			for toID := range m {
				delete(a.links[assocKey{k.toType, toID, typ}], id)
			}
			delete(a.links, k)
		}
	}
}

// list returns a record's links to one object type, in id order.
func (a *associations) list(fromType, fromID, toType string) []assocTarget {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.links[assocKey{fromType, fromID, toType}]
	out := make([]assocTarget, 0, len(m))
	for id, ts := range m {
		out = append(out, assocTarget{ID: id, Types: slices.Clone(ts)})
	}
	slices.SortFunc(out, func(x, y assocTarget) int {
		if c := len(x.ID) - len(y.ID); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out
}

type assocTarget struct {
	ID    string
	Types []assocType
}

// wireTarget is one associated record in the v4 API; toObjectId is a number.
type wireTarget struct {
	ToObjectID       json.Number `json:"toObjectId"`
	AssociationTypes []assocType `json:"associationTypes"`
}

// assocSpec is one association type in a request.
type assocSpec struct {
	AssociationCategory string `json:"associationCategory"`
	AssociationTypeID   int    `json:"associationTypeId"`
}

// assocCreate is one association in a create body.
type assocCreate struct {
	To struct {
		ID string `json:"id"`
	} `json:"to"`
	Types []assocSpec `json:"types"`
}

// exists reports whether a live record exists.
func (s *Server) exists(ot *objectType, id string) bool {
	_, err := s.store.Get(ot.name, id, []string{"hs_object_id"})
	return err == nil
}

// checkAssocCreate checks the associations of a create body.
func (s *Server) checkAssocCreate(from *objectType, as []assocCreate) *apiError {
	for _, a := range as {
		if len(a.Types) == 0 {
			return badRequest("an association needs at least one type")
		}
		for _, t := range a.Types {
			d, ok := defByID(t.AssociationTypeID)
			if !ok || d.from != from.name {
				return badRequest("association type %d does not start at %s", t.AssociationTypeID, from.name)
			}
			to, _ := s.objectType(d.to)
			if to == nil || !s.exists(to, a.To.ID) {
				return badRequest("cannot associate with %s %s: it does not exist", d.to, clip(a.To.ID))
			}
		}
	}
	return nil
}

func (s *Server) applyAssocCreate(from *objectType, id string, as []assocCreate) {
	for _, a := range as {
		for _, t := range a.Types {
			d, _ := defByID(t.AssociationTypeID)
			s.assoc.add(from.name, id, d.to, a.To.ID, assocType{Category: categoryOr(t.AssociationCategory), TypeID: t.AssociationTypeID})
		}
	}
}

func categoryOr(c string) string {
	if c == "" {
		return "HUBSPOT_DEFINED"
	}
	return c
}

// addAssociations fills a record's associations for GET ?associations=.
func (s *Server) addAssociations(w *wireRecord, ot *objectType, types []string) {
	for _, name := range types {
		to, e := s.objectType(name)
		if e != nil {
			continue
		}
		page := assocPage{Results: []assocRef{}}
		for _, t := range s.assoc.list(ot.name, w.ID, to.name) {
			for _, at := range t.Types {
				label := fmt.Sprintf("%s_to_%s", strings.TrimSuffix(ot.singular, "s"), strings.TrimSuffix(to.singular, "s"))
				if d, ok := defByID(at.TypeID); ok {
					label = d.name
				}
				page.Results = append(page.Results, assocRef{ID: t.ID, Type: strings.ToLower(label)})
			}
		}
		if len(page.Results) > 0 {
			if w.Associations == nil {
				w.Associations = map[string]assocPage{}
			}
			w.Associations[to.name] = page
		}
	}
}

// assocRoute serves /crm/v4/objects/{t}/{id}/associations/...
func (s *Server) assocRoute(method, typeName, id string, rest []string) route {
	from, e := s.objectType(typeName)
	fail := func(e *apiError) route {
		return route{handle: func(http.ResponseWriter, *http.Request) *apiError { return e }}
	}
	if e != nil {
		return fail(e)
	}
	switch {
	case len(rest) == 1 && method == http.MethodGet:
		to, e := s.objectType(rest[0])
		if e != nil {
			return fail(e)
		}
		return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError {
			if !s.exists(from, id) {
				return notFound(id)
			}
			return s.listAssociations(w, r, from, id, to)
		}}
	case len(rest) == 2 && method == http.MethodPut:
		to, e := s.objectType(rest[0])
		if e != nil {
			return fail(e)
		}
		toID := rest[1]
		return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError {
			var specs []assocSpec
			if e := decode(r, &specs); e != nil {
				return e
			}
			if len(specs) == 0 {
				return badRequest("the body is a list of {associationCategory, associationTypeId}")
			}
			if !s.exists(from, id) {
				return notFound(id)
			}
			if !s.exists(to, toID) {
				return notFound(toID)
			}
			var labels []string
			for _, sp := range specs {
				if d, ok := defByID(sp.AssociationTypeID); sp.AssociationCategory == "HUBSPOT_DEFINED" && (!ok || d.from != from.name || d.to != to.name) {
					return badRequest("association type %d does not link %s to %s", sp.AssociationTypeID, from.name, to.name)
				}
				s.assoc.add(from.name, id, to.name, toID, assocType{Category: categoryOr(sp.AssociationCategory), TypeID: sp.AssociationTypeID})
			}
			writeJSON(w, http.StatusCreated, map[string]any{
				"fromObjectTypeId": from.typeID, "fromObjectId": json.Number(id),
				"toObjectTypeId": to.typeID, "toObjectId": json.Number(toID), "labels": append([]string{}, labels...),
			})
			return nil
		}}
	case len(rest) == 3 && rest[0] == "default" && method == http.MethodPut:
		to, e := s.objectType(rest[1])
		if e != nil {
			return fail(e)
		}
		toID := rest[2]
		return route{handle: func(w http.ResponseWriter, _ *http.Request) *apiError {
			d, ok := defaultDef(from.name, to.name)
			if !ok {
				return badRequest("there is no default association from %s to %s", from.name, to.name)
			}
			if !s.exists(from, id) {
				return notFound(id)
			}
			if !s.exists(to, toID) {
				return notFound(toID)
			}
			s.assoc.add(from.name, id, to.name, toID, assocType{Category: "HUBSPOT_DEFINED", TypeID: d.id})
			writeJSON(w, http.StatusOK, map[string]any{"status": "COMPLETE", "results": []any{map[string]any{
				"from": map[string]string{"id": id}, "to": map[string]string{"id": toID},
				"associationSpec": assocSpec{AssociationCategory: "HUBSPOT_DEFINED", AssociationTypeID: d.id},
			}}})
			return nil
		}}
	case len(rest) == 2 && method == http.MethodDelete:
		to, e := s.objectType(rest[0])
		if e != nil {
			return fail(e)
		}
		toID := rest[1]
		return route{handle: func(w http.ResponseWriter, _ *http.Request) *apiError {
			s.assoc.remove(from.name, id, to.name, toID)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}}
	}
	return methodNotAllowed(method)
}

func (s *Server) listAssociations(w http.ResponseWriter, r *http.Request, from *objectType, id string, to *objectType) *apiError {
	q := r.URL.Query()
	limit := 500
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badRequest("limit must be a positive whole number")
		}
		limit = min(n, 500)
	}
	all := s.assoc.list(from.name, id, to.name)
	start := 0
	if after := q.Get("after"); after != "" {
		n, err := strconv.Atoi(after)
		if err != nil || n < 0 {
			return badRequest("after must be the paging.next.after of a previous page")
		}
		start = min(n, len(all))
	}
	end := min(start+limit, len(all))
	out := struct {
		Results []wireTarget `json:"results"`
		Paging  *paging      `json:"paging,omitempty"`
	}{Results: []wireTarget{}}
	for _, t := range all[start:end] {
		out.Results = append(out.Results, wireTarget{ToObjectID: json.Number(t.ID), AssociationTypes: t.Types})
	}
	if end < len(all) {
		out.Paging = &paging{Next: &pagingNext{After: strconv.Itoa(end)}}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// assocBatchRoute serves /crm/v4/associations/{fromT}/{toT}/batch/{op}.
func (s *Server) assocBatchRoute(method string, rest []string) route {
	if len(rest) < 4 || rest[2] != "batch" || method != http.MethodPost {
		return methodNotAllowed(method)
	}
	from, e1 := s.objectType(rest[0])
	to, e2 := s.objectType(rest[1])
	op := strings.Join(rest[3:], "/")
	return route{handle: func(w http.ResponseWriter, r *http.Request) *apiError {
		if e1 != nil {
			return e1
		}
		if e2 != nil {
			return e2
		}
		var req struct {
			Inputs []struct {
				From struct {
					ID string `json:"id"`
				} `json:"from"`
				To    json.RawMessage `json:"to"`
				Types []assocSpec     `json:"types"`
				ID    string          `json:"id"`
			} `json:"inputs"`
		}
		if e := decode(r, &req); e != nil {
			return e
		}
		max := 2000
		if op == "read" {
			max = 1000
		}
		if len(req.Inputs) > max {
			return badRequest("Batch input limit exceeded: %d inputs were sent, and the maximum is %d.", len(req.Inputs), max)
		}
		resp := map[string]any{"status": "COMPLETE", "startedAt": formatTime(s.clock()), "completedAt": formatTime(s.clock())}
		switch op {
		case "read":
			var results []any
			var missing []string
			for _, in := range req.Inputs {
				id := in.ID
				if id == "" {
					id = in.From.ID
				}
				if !s.exists(from, id) {
					missing = append(missing, id)
					continue
				}
				var targets []wireTarget
				for _, t := range s.assoc.list(from.name, id, to.name) {
					targets = append(targets, wireTarget{ToObjectID: json.Number(t.ID), AssociationTypes: t.Types})
				}
				if targets == nil {
					targets = []wireTarget{}
				}
				results = append(results, map[string]any{"from": map[string]string{"id": id}, "to": targets})
			}
			resp["results"] = append([]any{}, results...)
			status := http.StatusOK
			if len(missing) > 0 {
				resp["numErrors"] = 1
				resp["errors"] = []*apiError{from.notFoundGroup(missing)}
				status = http.StatusMultiStatus
			}
			writeJSON(w, status, resp)
			return nil
		case "create", "associate/default":
			var results []any
			for _, in := range req.Inputs {
				var toRef struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(in.To, &toRef); err != nil {
					return badRequest("to must be {\"id\": ...}")
				}
				if !s.exists(from, in.From.ID) {
					return notFound(in.From.ID)
				}
				if !s.exists(to, toRef.ID) {
					return notFound(toRef.ID)
				}
				types := in.Types
				if op == "associate/default" {
					d, ok := defaultDef(from.name, to.name)
					if !ok {
						return badRequest("there is no default association from %s to %s", from.name, to.name)
					}
					types = []assocSpec{{AssociationCategory: "HUBSPOT_DEFINED", AssociationTypeID: d.id}}
				}
				for _, t := range types {
					s.assoc.add(from.name, in.From.ID, to.name, toRef.ID, assocType{Category: categoryOr(t.AssociationCategory), TypeID: t.AssociationTypeID})
				}
				results = append(results, map[string]any{"fromObjectTypeId": from.typeID, "fromObjectId": json.Number(in.From.ID),
					"toObjectTypeId": to.typeID, "toObjectId": json.Number(toRef.ID), "labels": []string{}})
			}
			resp["results"] = append([]any{}, results...)
			status := http.StatusCreated
			if op != "create" {
				status = http.StatusOK
			}
			writeJSON(w, status, resp)
			return nil
		case "archive":
			for _, in := range req.Inputs {
				var tos []struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(in.To, &tos); err != nil {
					return badRequest("to must be a list of {\"id\": ...}")
				}
				for _, t := range tos {
					s.assoc.remove(from.name, in.From.ID, to.name, t.ID)
				}
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return newError(http.StatusNotFound, catNotFound, "No association batch operation %q", clip(op))
	}}
}
