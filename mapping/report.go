package mapping

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Report writes the data-flow report of a set of maps as Markdown: for each
// map, a table of which fields flow where, in which direction, through which
// conversion, which hold personal data and how each is protected; a list of
// the personal data and what becomes of it; and a Mermaid diagram of the
// flows. It is the input a privacy impact assessment asks for, made from the
// maps that actually run, so it cannot drift from them.
//
// Personal data is what the application schema marks Personal, and any field
// a rule protects. The report names fields, conversions and policies; it
// never holds a field value or a key.
func Report(w io.Writer, maps ...*Map) error {
	bw := bufio.NewWriter(w)
	r := &reporter{w: bw}
	r.write(maps)
	return bw.Flush()
}

type reporter struct {
	w *bufio.Writer
}

func (r *reporter) f(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

func (r *reporter) write(maps []*Map) {
	r.f("# Data-flow report\n\n")
	r.f("This report lists, for each field map, which fields flow between the application and the CRM, ")
	r.f("in which direction and through which conversion, which fields hold personal data, and how each is protected. ")
	r.f("crmkit generates it from the maps the integration runs.\n\n")
	r.f("## Summary\n\n")
	r.f("| Map | Application object | CRM object | Connection | Rules | Personal data fields | Protected or kept back |\n")
	r.f("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, m := range maps {
		personal, kept := 0, 0
		for _, p := range m.personalFields() {
			personal++
			if p.kept {
				kept++
			}
		}
		r.f("| %s | %s | %s | %s | %d | %d | %d |\n", cell(m.name), code(m.AppObject()), code(m.CRMObject()), connCell(m.conn), len(m.rules), personal, kept)
	}
	for i, m := range maps {
		r.mapSection(i+1, m)
	}
}

func connCell(c string) string {
	if c == "" {
		return "—"
	}
	return code(c)
}

func (r *reporter) mapSection(n int, m *Map) {
	r.f("\n## Map %s\n\n", cell(m.name))
	if m.spec.Note != "" {
		r.f("%s\n\n", oneLine(m.spec.Note))
	}
	r.f("Application object %s ⇄ CRM object %s", code(m.AppObject()), code(m.CRMObject()))
	if m.conn != "" {
		r.f(", on connection %s", code(m.conn))
	}
	r.f(".\n\n")
	r.f("| # | Application field | Flow | CRM field | Conversion | Personal data | Protection |\n")
	r.f("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, ru := range m.rules {
		r.f("| %d | %s | %s | %s | %s | %s | %s |\n", ru.idx+1, ru.appCell(), ru.flow(), ru.crmCell(), cell(ru.convCell()), ru.personalCell(), cell(ru.protection()))
	}
	notes := false
	for _, ru := range m.rules {
		if ru.spec.Note != "" {
			if !notes {
				r.f("\nNotes:\n\n")
				notes = true
			}
			r.f("- Rule %d: %s\n", ru.idx+1, oneLine(ru.spec.Note))
		}
	}

	r.f("\n### Personal data in %s\n\n", cell(m.name))
	ps := m.personalFields()
	if len(ps) == 0 {
		r.f("The map carries no personal data.\n")
	}
	for _, p := range ps {
		r.f("- %s: %s.\n", code(p.name), p.fate)
	}

	r.f("\n### Diagram of %s\n\n", cell(m.name))
	r.diagram(n, m)
}

// personal is one personal field of a map and what becomes of it.
type personal struct {
	name string
	fate string
	kept bool // protected, dropped or refused: the raw value does not reach the CRM
}

// personalFields lists the map's personal fields in declaration order, then
// fields that only a protection marks as personal.
func (m *Map) personalFields() []personal {
	var names []string
	for _, f := range m.spec.App.Fields {
		if f.Personal {
			names = append(names, f.Name)
		}
	}
	for _, ru := range m.rules {
		if ru.protect.Kind != ProtectNone && ru.app != "" && !contains(names, ru.app) {
			names = append(names, ru.app)
		}
	}
	var out []personal
	for _, name := range names {
		var fates []string
		kept, sent := false, false
		for _, ru := range m.rules {
			if ru.app != name {
				continue
			}
			switch {
			case ru.refused != "":
				fates = append(fates, fmt.Sprintf("kept from %s: %s", code(ru.crm), ru.refused))
				kept = true
			case ru.protect.Kind == ProtectDrop:
				fates = append(fates, "dropped: never leaves the application")
				kept = true
			case ru.protect.Kind != ProtectNone:
				fates = append(fates, fmt.Sprintf("sent to %s %s", code(ru.crm), ru.protect.fate()))
				kept = true
			default:
				var parts []string
				if ru.dir.has(ToCRM) {
					parts = append(parts, fmt.Sprintf("sent in the clear to %s", code(ru.crm)))
					sent = true
				}
				if ru.dir.has(FromCRM) {
					parts = append(parts, fmt.Sprintf("read back from %s", code(ru.crm)))
				}
				fates = append(fates, strings.Join(parts, " and "))
			}
		}
		if len(fates) == 0 {
			fates = append(fates, "stays in the application: no rule maps it")
			kept = true
		}
		out = append(out, personal{name: name, fate: strings.Join(fates, "; "), kept: kept && !sent})
	}
	return out
}

func (r *reporter) diagram(n int, m *Map) {
	id := func(side string, i int) string { return fmt.Sprintf("m%d_%s%d", n, side, i) }
	r.f("```mermaid\nflowchart LR\n")
	r.f("  subgraph m%d_app [\"application: %s\"]\n", n, label(m.AppObject()))
	var personalNodes, blockedNodes []string
	for _, ru := range m.rules {
		switch {
		case ru.app != "":
			text := ru.app
			switch {
			case ru.protect.Kind == ProtectDrop:
				text += " (dropped)"
			case ru.refused != "":
				text += " (refused on " + m.conn + ")"
			}
			r.f("    %s[\"%s\"]\n", id("a", ru.idx), label(text))
			if ru.personal {
				personalNodes = append(personalNodes, id("a", ru.idx))
			}
			if ru.protect.Kind == ProtectDrop || ru.refused != "" {
				blockedNodes = append(blockedNodes, id("a", ru.idx))
			}
		case ru.derive != nil && ru.dir == ToCRM:
			r.f("    %s([\"%s\"])\n", id("a", ru.idx), label(ru.shortConv()))
		}
	}
	r.f("  end\n")
	r.f("  subgraph m%d_crm [\"CRM: %s\"]\n", n, label(m.CRMObject()))
	for _, ru := range m.rules {
		switch {
		case ru.crm != "" && ru.protect.Kind != ProtectDrop:
			r.f("    %s[\"%s\"]\n", id("c", ru.idx), label(ru.crm))
		case ru.derive != nil && ru.dir == FromCRM:
			r.f("    %s([\"%s\"])\n", id("c", ru.idx), label(ru.shortConv()))
		}
	}
	r.f("  end\n")
	for _, ru := range m.rules {
		if ru.protect.Kind == ProtectDrop || ru.refused != "" {
			continue
		}
		a, c := id("a", ru.idx), id("c", ru.idx)
		text := ru.edgeLabel()
		switch ru.dir {
		case ToCRM:
			r.f("  %s -->|\"%s\"| %s\n", a, label(text), c)
		case FromCRM:
			r.f("  %s -->|\"%s\"| %s\n", c, label(text), a)
		default:
			r.f("  %s <-->|\"%s\"| %s\n", a, label(text), c)
		}
	}
	r.f("  classDef personal fill:#fff3cd,stroke:#b8860b\n")
	r.f("  classDef blocked fill:#f8d7da,stroke:#a00,stroke-dasharray: 4 4\n")
	if len(personalNodes) > 0 {
		r.f("  class %s personal\n", strings.Join(personalNodes, ","))
	}
	if len(blockedNodes) > 0 {
		r.f("  class %s blocked\n", strings.Join(blockedNodes, ","))
	}
	r.f("```\n")
}

func (ru *rule) appCell() string {
	if ru.app == "" {
		return "—"
	}
	return code(ru.app)
}

func (ru *rule) crmCell() string {
	if ru.crm == "" {
		return "—"
	}
	return code(ru.crm)
}

func (ru *rule) flow() string {
	switch {
	case ru.protect.Kind == ProtectDrop:
		return "✕ never leaves"
	case ru.refused != "":
		return "✕ refused"
	case ru.dir == ToCRM:
		return "→ to the CRM"
	case ru.dir == FromCRM:
		return "← from the CRM"
	}
	return "⇄ both ways"
}

func (ru *rule) convCell() string {
	if ru.conv == nil || ru.protect.Kind == ProtectDrop {
		return "—"
	}
	return ru.desc
}

// shortConv is the conversion's description up to its details.
func (ru *rule) shortConv() string {
	d := ru.convCell()
	if i := strings.Index(d, " ("); i > 0 {
		d = d[:i]
	}
	return d
}

func (ru *rule) edgeLabel() string {
	switch ru.protect.Kind {
	case ProtectHash:
		return "keyed hash"
	case ProtectMask:
		return "masked"
	}
	if ru.conv == nil {
		return "as is"
	}
	if ru.derive != nil {
		return "set"
	}
	return ru.shortConv()
}

func (ru *rule) personalCell() string {
	switch {
	case ru.personal:
		return "yes"
	case ru.app == "":
		return "—"
	}
	return "no"
}

func (ru *rule) protection() string {
	switch {
	case ru.refused != "":
		return ru.refused
	case ru.protect.Kind != ProtectNone:
		return ru.protect.String()
	case ru.personal:
		return "none: in the clear"
	}
	return "—"
}

// code puts a name in a Markdown code span.
func code(s string) string {
	return "`" + strings.NewReplacer("`", "'", "|", `\|`).Replace(oneLine(s)) + "`"
}

// cell makes text safe in a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// label makes text safe in a quoted Mermaid label.
func label(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "|", "#124;", "`", "'").Replace(oneLine(s))
}
