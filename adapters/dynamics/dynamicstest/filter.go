package dynamicstest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// This file parses the OData expressions the emulator accepts: $filter
// expressions, key segments such as accounts(accountnumber='A-1'), and the
// literals both are made of, with OData's rules (a string is quoted and a
// quote inside it doubled; GUIDs, numbers, dates and date-times are bare).

type litKind uint8

const (
	litString litKind = iota + 1
	litInt
	litDecimal
	litGUID
	litDateTime
	litDate
	litNull
	litBool
	litEnum // Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'
)

func (k litKind) edm() string {
	switch k {
	case litString:
		return "Edm.String"
	case litInt:
		return "Edm.Int32"
	case litDecimal:
		return "Edm.Decimal"
	case litGUID:
		return "Edm.Guid"
	case litDateTime:
		return "Edm.DateTimeOffset"
	case litDate:
		return "Edm.Date"
	case litBool:
		return "Edm.Boolean"
	case litEnum:
		return "Edm.Enum"
	}
	return "null"
}

type literal struct {
	kind litKind
	raw  string
	str  string // litString, litGUID (lower case), litEnum (the member)
	num  crm.Decimal
	i    int64
	b    bool
	t    time.Time
	d    crm.Date
}

type expr interface{ isExpr() }

type logicExpr struct {
	op          string // "and", "or"
	left, right expr
}

type notExpr struct{ x expr }

type cmpExpr struct {
	prop string
	op   string // eq ne gt ge lt le
	lit  literal
}

type funcExpr struct {
	name string // contains, startswith, endswith
	prop string
	lit  literal
}

func (*logicExpr) isExpr() {}
func (*notExpr) isExpr()   {}
func (*cmpExpr) isExpr()   {}
func (*funcExpr) isExpr()  {}

// syntaxError is a $filter or key that does not parse; its message follows
// the wording Dataverse uses.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

type token struct {
	kind byte // 'w' word, 's' string, '(' ')' ','
	text string
	lit  literal
	pos  int
}

var (
	guidRE     = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	dateRE     = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	dateTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$`)
	intRE      = regexp.MustCompile(`^[+-]?\d+$`)
	decimalRE  = regexp.MustCompile(`^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?[mMdD]?$`)
	enumRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*'[A-Za-z0-9_]+'$`)
)

// tokenize splits an expression into words, quoted strings and the
// punctuation characters in punct.
func tokenize(src, punct string) ([]token, error) {
	var out []token
	stop := " \t\r\n" + punct
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case strings.IndexByte(punct, c) >= 0:
			out = append(out, token{kind: c, text: string(c), pos: i})
			i++
		case c == '\'':
			start := i
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, &syntaxError{fmt.Sprintf("There is an unterminated literal at position %d in '%s'.", start, src)}
				}
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			out = append(out, token{kind: 's', text: src[start:i], lit: literal{kind: litString, raw: src[start:i], str: b.String()}, pos: start})
		default:
			start := i
			for i < len(src) && strings.IndexByte(stop, src[i]) < 0 {
				if src[i] == '\'' {
					// An enum literal: Namespace.Type'Member'.
					j := strings.IndexByte(src[i+1:], '\'')
					if j < 0 {
						return nil, &syntaxError{fmt.Sprintf("There is an unterminated literal at position %d in '%s'.", i, src)}
					}
					i += j + 2
					continue
				}
				i++
			}
			out = append(out, token{kind: 'w', text: src[start:i], pos: start})
		}
	}
	return out, nil
}

// wordLiteral classifies a bare word as a literal, or reports false when it
// is an identifier or keyword.
func wordLiteral(w string) (literal, bool) {
	l := literal{raw: w}
	switch {
	case w == "null":
		l.kind = litNull
	case w == "true" || w == "false":
		l.kind, l.b = litBool, w == "true"
	case guidRE.MatchString(w):
		l.kind, l.str = litGUID, strings.ToLower(w)
	case dateTimeRE.MatchString(w):
		t, err := time.Parse(time.RFC3339Nano, w)
		if err != nil {
			t, err = time.Parse("2006-01-02T15:04Z07:00", w)
			if err != nil {
				return l, false
			}
		}
		l.kind, l.t = litDateTime, t.UTC()
	case dateRE.MatchString(w):
		d, err := crm.ParseDate(w)
		if err != nil {
			return l, false
		}
		l.kind, l.d = litDate, d
	case intRE.MatchString(w):
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			return l, false
		}
		l.kind, l.i, l.num = litInt, n, crm.NewDecimal(n, 0)
	case decimalRE.MatchString(w):
		d, err := crm.ParseDecimal(strings.TrimRight(w, "mMdD"))
		if err != nil {
			return l, false
		}
		l.kind, l.num = litDecimal, d
	case enumRE.MatchString(w):
		q := strings.IndexByte(w, '\'')
		l.kind, l.str = litEnum, w[q+1:len(w)-1]
	default:
		return l, false
	}
	return l, true
}

// parseFilter parses a $filter expression.
func parseFilter(src string) (expr, error) {
	toks, err := tokenize(src, "(),")
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	if len(toks) == 0 {
		return nil, &syntaxError{"The $filter expression is empty."}
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errAt(p.toks[p.i].pos, fmt.Sprintf("Syntax error: character '%s' is not valid at position %d in '%s'.", p.toks[p.i].text, p.toks[p.i].pos, src))
	}
	return e, nil
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) errAt(_ int, msg string) error { return &syntaxError{msg} }

func (p *parser) peekWord(w string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == 'w' && p.toks[p.i].text == w
}

func (p *parser) unexpectedEnd() error {
	return &syntaxError{fmt.Sprintf("Expression expected at position %d in '%s'.", len(p.src), p.src)}
}

func (p *parser) or() (expr, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.i++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &logicExpr{op: "or", left: left, right: right}
	}
	return left, nil
}

func (p *parser) and() (expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.i++
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &logicExpr{op: "and", left: left, right: right}
	}
	return left, nil
}

func (p *parser) unary() (expr, error) {
	if p.peekWord("not") {
		p.depth++
		if p.depth > 100 {
			return nil, &syntaxError{"The $filter expression is nested too deeply."}
		}
		defer func() { p.depth-- }()
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (expr, error) {
	if p.i >= len(p.toks) {
		return nil, p.unexpectedEnd()
	}
	t := p.toks[p.i]
	if t.kind == '(' {
		p.depth++
		if p.depth > 100 {
			return nil, &syntaxError{"The $filter expression is nested too deeply."}
		}
		p.i++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].kind != ')' {
			return nil, &syntaxError{fmt.Sprintf("')' or operator expected at position %d in '%s'.", p.pos(), p.src)}
		}
		p.i++
		p.depth--
		return e, nil
	}
	if t.kind != 'w' {
		return nil, &syntaxError{fmt.Sprintf("Syntax error: character '%s' is not valid at position %d in '%s'.", t.text, t.pos, p.src)}
	}
	if _, isLit := wordLiteral(t.text); isLit {
		return nil, &syntaxError{fmt.Sprintf("A property name is expected at position %d in '%s'; a literal must be on the right of a comparison.", t.pos, p.src)}
	}
	// A function call: name(prop,literal).
	if p.i+1 < len(p.toks) && p.toks[p.i+1].kind == '(' {
		name := t.text
		switch name {
		case "contains", "startswith", "endswith":
		default:
			return nil, &syntaxError{fmt.Sprintf("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", name)}
		}
		p.i += 2
		if p.i >= len(p.toks) || p.toks[p.i].kind != 'w' {
			return nil, &syntaxError{fmt.Sprintf("A property name is expected as the first argument of %s at position %d in '%s'.", name, p.pos(), p.src)}
		}
		prop := p.toks[p.i].text
		p.i++
		if p.i >= len(p.toks) || p.toks[p.i].kind != ',' {
			return nil, &syntaxError{fmt.Sprintf("',' expected at position %d in '%s'.", p.pos(), p.src)}
		}
		p.i++
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.toks) || p.toks[p.i].kind != ')' {
			return nil, &syntaxError{fmt.Sprintf("')' expected at position %d in '%s'.", p.pos(), p.src)}
		}
		p.i++
		return &funcExpr{name: name, prop: prop, lit: lit}, nil
	}
	prop := t.text
	p.i++
	if p.i >= len(p.toks) {
		return nil, p.unexpectedEnd()
	}
	op := p.toks[p.i]
	switch op.text {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, &syntaxError{fmt.Sprintf("Syntax error at position %d in '%s': a comparison operator (eq, ne, gt, ge, lt, le) is expected after '%s'.", op.pos, p.src, prop)}
	}
	p.i++
	lit, err := p.literal()
	if err != nil {
		return nil, err
	}
	return &cmpExpr{prop: prop, op: op.text, lit: lit}, nil
}

func (p *parser) pos() int {
	if p.i < len(p.toks) {
		return p.toks[p.i].pos
	}
	return len(p.src)
}

func (p *parser) literal() (literal, error) {
	if p.i >= len(p.toks) {
		return literal{}, p.unexpectedEnd()
	}
	t := p.toks[p.i]
	p.i++
	switch t.kind {
	case 's':
		return t.lit, nil
	case 'w':
		if l, ok := wordLiteral(t.text); ok {
			return l, nil
		}
		return literal{}, &syntaxError{fmt.Sprintf("A literal is expected at position %d in '%s', found '%s' (strings are quoted: '%s').", t.pos, p.src, t.text, t.text)}
	}
	return literal{}, &syntaxError{fmt.Sprintf("Syntax error: character '%s' is not valid at position %d in '%s'.", t.text, t.pos, p.src)}
}

// keyPart is one name=value pair of a key segment; name is empty for a bare
// primary key value.
type keyPart struct {
	name string
	lit  literal
}

// parseKey parses the inside of a key segment: a bare GUID, or
// name=literal pairs separated by commas.
func parseKey(src string) ([]keyPart, error) {
	toks, err := tokenize(src, "(),=")
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 && toks[0].kind == 'w' {
		l, ok := wordLiteral(toks[0].text)
		if !ok || l.kind != litGUID {
			return nil, &syntaxError{fmt.Sprintf("Bad Request - Error in query syntax: the key '%s' is not a GUID; use accounts(<guid>) or an alternate key such as accounts(accountnumber='A-1').", src)}
		}
		return []keyPart{{lit: l}}, nil
	}
	var parts []keyPart
	for i := 0; i < len(toks); {
		if i+2 >= len(toks) || toks[i].kind != 'w' || toks[i+1].text != "=" {
			return nil, &syntaxError{fmt.Sprintf("Bad Request - Error in query syntax: the key segment '(%s)' is not name=value pairs.", src)}
		}
		var l literal
		switch toks[i+2].kind {
		case 's':
			l = toks[i+2].lit
		case 'w':
			var ok bool
			if l, ok = wordLiteral(toks[i+2].text); !ok {
				return nil, &syntaxError{fmt.Sprintf("Bad Request - Error in query syntax: '%s' in the key segment is not a literal.", toks[i+2].text)}
			}
		default:
			return nil, &syntaxError{fmt.Sprintf("Bad Request - Error in query syntax: the key segment '(%s)' is not name=value pairs.", src)}
		}
		parts = append(parts, keyPart{name: toks[i].text, lit: l})
		i += 3
		if i < len(toks) {
			if toks[i].kind != ',' {
				return nil, &syntaxError{fmt.Sprintf("Bad Request - Error in query syntax: ',' expected in the key segment '(%s)'.", src)}
			}
			i++
		}
	}
	if len(parts) == 0 {
		return nil, &syntaxError{"Bad Request - Error in query syntax: the key segment is empty."}
	}
	return parts, nil
}

// splitSegment splits "accounts(key)" into "accounts" and "key"; hasKey
// reports whether there were parentheses.
func splitSegment(seg string) (name, key string, hasKey bool, err error) {
	open := strings.IndexByte(seg, '(')
	if open < 0 {
		return seg, "", false, nil
	}
	if !strings.HasSuffix(seg, ")") {
		return "", "", false, &syntaxError{fmt.Sprintf("Bad Request - Error in query syntax: the segment '%s' has no closing parenthesis.", seg)}
	}
	return seg[:open], seg[open+1 : len(seg)-1], true, nil
}
