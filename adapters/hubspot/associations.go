package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/crmkit/crmkit/crm"
)

// HubSpot-defined association type ids (category HUBSPOT_DEFINED). Types
// are directed: contact→company and company→contact are two ids.
const (
	ContactToCompany        = 279 // unlabeled
	CompanyToContact        = 280
	ContactToCompanyPrimary = 1
	CompanyToContactPrimary = 2
	DealToCompany           = 341
	CompanyToDeal           = 342
	DealToCompanyPrimary    = 5
	CompanyToDealPrimary    = 6
	ContactToDeal           = 4
	DealToContact           = 3
)

// AssociationType is one type of a link between two records.
type AssociationType struct {
	Category string `json:"category"` // HUBSPOT_DEFINED, USER_DEFINED, INTEGRATOR_DEFINED, WORK
	TypeID   int    `json:"typeId"`
	Label    string `json:"label,omitempty"`
}

// Association is a link from a record to another, with its types.
type Association struct {
	ToID  string
	Types []AssociationType
}

// assocPath is the per-record associations path: under the objects family
// in the dated API, /crm/v4/objects/... in the legacy one.
func (d *Driver) assocPath(object, id string, rest ...string) string {
	if d.version == APIVersionLegacy {
		p := "/crm/v4/objects/" + url.PathEscape(object) + "/" + url.PathEscape(id) + "/associations"
		for _, r := range rest {
			p += "/" + url.PathEscape(r)
		}
		return p
	}
	return d.objectsPath(object, append([]string{id, "associations"}, rest...)...)
}

func (d *Driver) assocBatchPath(from, to, op string) string {
	if d.version == APIVersionLegacy {
		return "/crm/v4/associations/" + url.PathEscape(from) + "/" + url.PathEscape(to) + "/batch/" + op
	}
	return "/crm/associations/" + d.version + "/" + url.PathEscape(from) + "/" + url.PathEscape(to) + "/batch/" + op
}

// Associate links two records (associations v4). Without types it makes
// HubSpot's default, unlabeled association of the pair (contact→company is
// 279); with types, those, such as {HUBSPOT_DEFINED, ContactToCompanyPrimary}.
// HubSpot records the link in both directions.
func (d *Driver) Associate(ctx context.Context, fromObject, fromID, toObject, toID string, types ...AssociationType) error {
	if fromID == "" || toID == "" {
		return &crm.Error{Kind: crm.KindInvalidRequest, CRM: Name, Operation: "associate", Object: fromObject, Message: "Associate needs both record ids"}
	}
	if len(types) == 0 {
		_, err := d.call(ctx, "associate", fromObject, http.MethodPut, d.assocPath(fromObject, fromID, "default", toObject, toID), nil, nil, nil)
		return err
	}
	type spec struct {
		AssociationCategory string `json:"associationCategory"`
		AssociationTypeID   int    `json:"associationTypeId"`
	}
	body := make([]spec, len(types))
	for i, t := range types {
		cat := t.Category
		if cat == "" {
			cat = "HUBSPOT_DEFINED"
		}
		body[i] = spec{cat, t.TypeID}
	}
	_, err := d.call(ctx, "associate", fromObject, http.MethodPut, d.assocPath(fromObject, fromID, toObject, toID), nil, body, nil)
	return err
}

// Dissociate removes every link between two records.
func (d *Driver) Dissociate(ctx context.Context, fromObject, fromID, toObject, toID string) error {
	_, err := d.call(ctx, "dissociate", fromObject, http.MethodDelete, d.assocPath(fromObject, fromID, toObject, toID), nil, nil, nil)
	return err
}

type wireTarget struct {
	ToObjectID       json.Number       `json:"toObjectId"`
	AssociationTypes []AssociationType `json:"associationTypes"`
}

// Associations returns the records of toObject linked to one record, all
// pages of them.
func (d *Driver) Associations(ctx context.Context, fromObject, fromID, toObject string) ([]Association, error) {
	var out []Association
	after := ""
	for range 10_000 {
		q := url.Values{"limit": {"500"}}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Results []wireTarget `json:"results"`
			Paging  struct {
				Next struct {
					After string `json:"after"`
				} `json:"next"`
			} `json:"paging"`
		}
		if _, err := d.call(ctx, "associations", fromObject, http.MethodGet, d.assocPath(fromObject, fromID, toObject), q, nil, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Results {
			out = append(out, Association{ToID: r.ToObjectID.String(), Types: r.AssociationTypes})
		}
		if after = page.Paging.Next.After; after == "" {
			return out, nil
		}
	}
	return nil, &crm.Error{Kind: crm.KindUnknown, CRM: Name, Operation: "associations", Object: fromObject, Message: "HubSpot's association pages do not end"}
}

// BatchAssociations returns the links from many records of fromObject to
// toObject in one call per 1,000 records (associations v4 batch read), by
// record id. Records that do not exist are left out.
func (d *Driver) BatchAssociations(ctx context.Context, fromObject, toObject string, ids []string) (map[string][]Association, error) {
	out := make(map[string][]Association, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		type in struct {
			ID string `json:"id"`
		}
		var body struct {
			Inputs []in `json:"inputs"`
		}
		for _, id := range ids[start:min(start+1000, len(ids))] {
			body.Inputs = append(body.Inputs, in{id})
		}
		var res struct {
			Results []struct {
				From struct {
					ID string `json:"id"`
				} `json:"from"`
				To []wireTarget `json:"to"`
			} `json:"results"`
		}
		if _, err := d.call(ctx, "associations", fromObject, http.MethodPost, d.assocBatchPath(fromObject, toObject, "read"), nil, &body, &res); err != nil {
			return nil, err
		}
		for _, r := range res.Results {
			for _, t := range r.To {
				out[r.From.ID] = append(out[r.From.ID], Association{ToID: t.ToObjectID.String(), Types: t.AssociationTypes})
			}
			if _, ok := out[r.From.ID]; !ok {
				out[r.From.ID] = []Association{}
			}
		}
	}
	return out, nil
}

// String describes an association type, for logs.
func (t AssociationType) String() string {
	if t.Label != "" {
		return fmt.Sprintf("%s %d (%s)", t.Category, t.TypeID, t.Label)
	}
	return t.Category + " " + strconv.Itoa(t.TypeID)
}
