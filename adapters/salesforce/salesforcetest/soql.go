package salesforcetest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses the SOQL the emulator serves: SELECT a field list,
// COUNT() or FIELDS(ALL|STANDARD|CUSTOM), FROM one object, WHERE with AND,
// OR (never mixed without parentheses, as SOQL requires), NOT, comparisons,
// IN, NOT IN and LIKE, ORDER BY with ASC/DESC and NULLS FIRST/LAST, LIMIT
// and OFFSET. String literals follow SOQL's escaping exactly: only the
// documented escape sequences are accepted, so a client that escapes badly
// gets MALFORMED_QUERY here as it would from a real org.

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tDateTime
	tOp
	tLParen
	tRParen
	tComma
	tColon
)

type token struct {
	kind tokKind
	text string // as written (for strings: the decoded value)
	like string // for strings: the LIKE pattern, wildcards as \x00 (%) and \x01 (_)
	pos  int    // byte offset in the query
}

// likeAny and likeOne mark LIKE wildcards in a decoded pattern.
const (
	likeAny = '\x00'
	likeOne = '\x01'
)

type lexer struct {
	src  string
	pos  int
	prev tokKind
}

// queryError builds Salesforce's query error: the query, a caret under the
// column, and the problem.
func queryError(src string, pos int, code, format string, args ...any) *failure {
	row, col, lineStart := 1, 1, 0
	for i := 0; i < pos && i < len(src); i++ {
		if src[i] == '\n' {
			row, col, lineStart = row+1, 1, i+1
		} else {
			col++
		}
	}
	lineEnd := strings.IndexByte(src[lineStart:], '\n')
	line := src[lineStart:]
	if lineEnd >= 0 {
		line = src[lineStart : lineStart+lineEnd]
	}
	msg := fmt.Sprintf("\n%s\n%s^\nERROR at Row:%d:Column:%d\n%s", line, strings.Repeat(" ", col-1), row, col, fmt.Sprintf(format, args...))
	return &failure{status: http.StatusBadRequest, errs: []apiError{{Code: code, Message: msg}}}
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c >= '0' && c <= '9' || c == '.' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

func (l *lexer) next() (token, *failure) {
	for l.pos < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0 {
		l.pos++
	}
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: l.pos}, nil
	}
	start := l.pos
	c := l.src[l.pos]
	tok := func(k tokKind, n int) (token, *failure) {
		l.pos += n
		l.prev = k
		return token{kind: k, text: l.src[start:l.pos], pos: start}, nil
	}
	switch {
	case c == '(':
		return tok(tLParen, 1)
	case c == ')':
		return tok(tRParen, 1)
	case c == ',':
		return tok(tComma, 1)
	case c == ':':
		return tok(tColon, 1)
	case c == '=':
		return tok(tOp, 1)
	case c == '!' && strings.HasPrefix(l.src[l.pos:], "!="):
		return tok(tOp, 2)
	case c == '<' && (strings.HasPrefix(l.src[l.pos:], "<=") || strings.HasPrefix(l.src[l.pos:], "<>")):
		return tok(tOp, 2)
	case c == '>' && strings.HasPrefix(l.src[l.pos:], ">="):
		return tok(tOp, 2)
	case c == '<' || c == '>':
		return tok(tOp, 1)
	case c == '\'':
		return l.str()
	case isDigit(c) || ((c == '-' || c == '+') && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]) && (l.prev == tOp || l.prev == tLParen || l.prev == tComma)):
		return l.number()
	case isIdentStart(c):
		n := 1
		for l.pos+n < len(l.src) && isIdentChar(l.src[l.pos+n]) {
			n++
		}
		return tok(tIdent, n)
	}
	r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
	return token{}, queryError(l.src, start, "MALFORMED_QUERY", "line 1:%d no viable alternative at character '%c'", start, r)
}

// str reads a quoted string literal, decoding SOQL's escape sequences.
func (l *lexer) str() (token, *failure) {
	start := l.pos
	var val, like strings.Builder
	i := l.pos + 1
	for {
		if i >= len(l.src) {
			return token{}, queryError(l.src, start, "MALFORMED_QUERY", "line 1:%d mismatched character '<EOF>' expecting '''", len(l.src))
		}
		c := l.src[i]
		if c == '\'' {
			i++
			break
		}
		if c != '\\' {
			val.WriteByte(c)
			switch c {
			case '%':
				like.WriteByte(likeAny)
			case '_':
				like.WriteByte(likeOne)
			default:
				like.WriteByte(c)
			}
			i++
			continue
		}
		if i+1 >= len(l.src) {
			return token{}, queryError(l.src, start, "MALFORMED_QUERY", "line 1:%d mismatched character '<EOF>' expecting '''", len(l.src))
		}
		e := l.src[i+1]
		var out string
		switch e {
		case 'n', 'N':
			out = "\n"
		case 'r', 'R':
			out = "\r"
		case 't', 'T':
			out = "\t"
		case 'b', 'B':
			out = "\b"
		case 'f', 'F':
			out = "\f"
		case '"', '\'', '\\':
			out = string(e)
		case '_', '%':
			// A literal _ or % inside LIKE; elsewhere the backslash stays.
			val.WriteByte('\\')
			val.WriteByte(e)
			like.WriteByte(e)
			i += 2
			continue
		case 'u', 'U':
			if i+6 <= len(l.src) {
				if n, err := strconv.ParseUint(l.src[i+2:i+6], 16, 32); err == nil {
					out = string(rune(n))
					val.WriteString(out)
					like.WriteString(out)
					i += 6
					continue
				}
			}
			fallthrough
		default:
			end := strings.IndexByte(l.src[i+1:], '\'')
			lit := l.src[start:]
			if end >= 0 {
				lit = l.src[start : i+2+end]
			}
			return token{}, queryError(l.src, start, "MALFORMED_QUERY", "Invalid string literal %s. Illegal character sequence '\\%c' in string literal.", lit, e)
		}
		val.WriteString(out)
		like.WriteString(out)
		i += 2
	}
	l.pos = i
	l.prev = tString
	return token{kind: tString, text: val.String(), like: like.String(), pos: start}, nil
}

// number reads a number, a date (2024-01-31) or a date-time
// (2024-01-31T10:00:00Z, with optional fraction and a ±hh:mm offset).
func (l *lexer) number() (token, *failure) {
	start := l.pos
	i := l.pos
	if l.src[i] == '-' || l.src[i] == '+' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
			n++
		}
		return n
	}
	n := digits()
	if n == 4 && i < len(l.src) && l.src[i] == '-' && l.src[start] != '-' && l.src[start] != '+' {
		// A date or date-time literal.
		end := i
		for end < len(l.src) && (isDigit(l.src[end]) || strings.IndexByte("-:.TZ+", l.src[end]) >= 0) {
			end++
		}
		text := l.src[start:end]
		l.pos = end
		if len(text) == 10 {
			l.prev = tDate
			return token{kind: tDate, text: text, pos: start}, nil
		}
		l.prev = tDateTime
		return token{kind: tDateTime, text: text, pos: start}, nil
	}
	if i < len(l.src) && l.src[i] == '.' {
		i++
		digits()
	}
	if i < len(l.src) && (l.src[i] == 'e' || l.src[i] == 'E') {
		i++
		if i < len(l.src) && (l.src[i] == '-' || l.src[i] == '+') {
			i++
		}
		digits()
	}
	l.pos = i
	l.prev = tNumber
	return token{kind: tNumber, text: l.src[start:i], pos: start}, nil
}

// The parsed query.

type soqlQuery struct {
	src     string
	count   bool
	fieldFn string // FIELDS(ALL|STANDARD|CUSTOM), upper-cased
	fields  []nameRef
	object  nameRef
	where   node
	orderBy []orderItem
	limit   int // -1 for none
	offset  int
	hasOff  bool
}

type nameRef struct {
	name string
	pos  int
}

type orderItem struct {
	field nameRef
	desc  bool
	nulls string // "", "FIRST" or "LAST"
}

type node interface{ isNode() }

type andNode struct{ kids []node }
type orNode struct{ kids []node }
type notNode struct{ kid node }
type cmpNode struct {
	field nameRef
	op    string // =, !=, <, <=, >, >=, LIKE
	lit   token
	days  int // for N_DAYS date literals
}
type inNode struct {
	field nameRef
	not   bool
	lits  []token
}

func (andNode) isNode() {}
func (orNode) isNode()  {}
func (notNode) isNode() {}
func (cmpNode) isNode() {}
func (inNode) isNode()  {}

type parser struct {
	lx  lexer
	tok token
	src string
}

func parseSOQL(src string) (*soqlQuery, *failure) {
	p := &parser{lx: lexer{src: src}, src: src}
	if err := p.advance(); err != nil {
		return nil, err
	}
	q := &soqlQuery{src: src, limit: -1}
	if err := p.keyword("SELECT"); err != nil {
		return nil, err
	}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if err := p.keyword("FROM"); err != nil {
		return nil, err
	}
	if p.tok.kind != tIdent {
		return nil, p.unexpected()
	}
	q.object = nameRef{p.tok.text, p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.is("WHERE") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.condition()
		if err != nil {
			return nil, err
		}
		q.where = n
	}
	if p.is("ORDER") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.keyword("BY"); err != nil {
			return nil, err
		}
		for {
			if p.tok.kind != tIdent {
				return nil, p.unexpected()
			}
			it := orderItem{field: nameRef{p.tok.text, p.tok.pos}}
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.is("ASC") || p.is("DESC") {
				it.desc = p.is("DESC")
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			if p.is("NULLS") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				if !p.is("FIRST") && !p.is("LAST") {
					return nil, p.unexpected()
				}
				it.nulls = strings.ToUpper(p.tok.text)
				if err := p.advance(); err != nil {
					return nil, err
				}
			}
			q.orderBy = append(q.orderBy, it)
			if p.tok.kind != tComma {
				break
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
	}
	if p.is("LIMIT") {
		n, err := p.intAfterKeyword()
		if err != nil {
			return nil, err
		}
		q.limit = n
	}
	if p.is("OFFSET") {
		n, err := p.intAfterKeyword()
		if err != nil {
			return nil, err
		}
		q.offset, q.hasOff = n, true
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected()
	}
	return q, nil
}

func (p *parser) advance() *failure {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) is(kw string) bool { return p.tok.kind == tIdent && strings.EqualFold(p.tok.text, kw) }

func (p *parser) keyword(kw string) *failure {
	if !p.is(kw) {
		return p.unexpected()
	}
	return p.advance()
}

func (p *parser) unexpected() *failure {
	if p.tok.kind == tEOF {
		return queryError(p.src, p.tok.pos, "MALFORMED_QUERY", "unexpected token: <EOF>")
	}
	text := p.tok.text
	if p.tok.kind == tString {
		text = "'" + text + "'"
	}
	return queryError(p.src, p.tok.pos, "MALFORMED_QUERY", "unexpected token: %s", text)
}

func (p *parser) intAfterKeyword() (int, *failure) {
	if err := p.advance(); err != nil {
		return 0, err
	}
	if p.tok.kind != tNumber {
		return 0, p.unexpected()
	}
	n, err := strconv.Atoi(p.tok.text)
	if err != nil || n < 0 {
		return 0, queryError(p.src, p.tok.pos, "MALFORMED_QUERY", "unexpected token: %s", p.tok.text)
	}
	return n, p.advance()
}

func (p *parser) selectList(q *soqlQuery) *failure {
	if (p.is("COUNT") || p.is("FIELDS")) && p.peekParen() {
		fn := strings.ToUpper(p.tok.text)
		if err := p.advance(); err != nil { // the name
			return err
		}
		if err := p.advance(); err != nil { // (
			return err
		}
		if fn == "COUNT" {
			if p.tok.kind != tRParen {
				return queryError(p.src, p.tok.pos, "MALFORMED_QUERY", "salesforcetest: only COUNT() is emulated, not COUNT(field) or other aggregates")
			}
			q.count = true
			return p.advance()
		}
		if !p.is("ALL") && !p.is("STANDARD") && !p.is("CUSTOM") {
			return p.unexpected()
		}
		q.fieldFn = strings.ToUpper(p.tok.text)
		if err := p.advance(); err != nil {
			return err
		}
		if p.tok.kind != tRParen {
			return p.unexpected()
		}
		return p.advance()
	}
	for {
		if p.tok.kind != tIdent || p.is("FROM") {
			return p.unexpected()
		}
		q.fields = append(q.fields, nameRef{p.tok.text, p.tok.pos})
		if err := p.advance(); err != nil {
			return err
		}
		if p.tok.kind != tComma {
			return nil
		}
		if err := p.advance(); err != nil {
			return err
		}
	}
}

// peekParen reports whether the token after the current one is "(".
func (p *parser) peekParen() bool {
	save := p.lx
	t, err := p.lx.next()
	p.lx = save
	return err == nil && t.kind == tLParen
}

// condition parses a WHERE expression. SOQL refuses AND and OR mixed at one
// level without parentheses.
func (p *parser) condition() (node, *failure) {
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	kids := []node{first}
	joiner := ""
	for p.is("AND") || p.is("OR") {
		kw := strings.ToUpper(p.tok.text)
		if joiner != "" && kw != joiner {
			return nil, p.unexpected()
		}
		joiner = kw
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	switch joiner {
	case "AND":
		return andNode{kids}, nil
	case "OR":
		return orNode{kids}, nil
	}
	return first, nil
}

func (p *parser) unary() (node, *failure) {
	if p.is("NOT") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if p.tok.kind == tLParen {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.condition()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.unexpected()
		}
		return n, p.advance()
	}
	if p.tok.kind != tIdent {
		return nil, p.unexpected()
	}
	field := nameRef{p.tok.text, p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	switch {
	case p.tok.kind == tOp:
		op := p.tok.text
		if op == "<>" {
			op = "!="
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return p.comparison(field, op)
	case p.is("LIKE"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.unexpected()
		}
		n := cmpNode{field: field, op: "LIKE", lit: p.tok}
		return n, p.advance()
	case p.is("IN") || p.is("NOT"):
		not := p.is("NOT")
		if not {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if !p.is("IN") {
				return nil, p.unexpected()
			}
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tLParen {
			return nil, p.unexpected()
		}
		var lits []token
		for {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if !p.isLiteral() {
				return nil, p.unexpected()
			}
			lits = append(lits, p.tok)
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind == tRParen {
				break
			}
			if p.tok.kind != tComma {
				return nil, p.unexpected()
			}
		}
		return inNode{field: field, not: not, lits: lits}, p.advance()
	}
	return nil, p.unexpected()
}

func (p *parser) isLiteral() bool {
	switch p.tok.kind {
	case tString, tNumber, tDate, tDateTime:
		return true
	case tIdent:
		return !strings.Contains(p.tok.text, ".")
	}
	return false
}

func (p *parser) comparison(field nameRef, op string) (node, *failure) {
	if !p.isLiteral() {
		return nil, p.unexpected()
	}
	n := cmpNode{field: field, op: op, lit: p.tok}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if n.lit.kind == tIdent && p.tok.kind == tColon { // LAST_N_DAYS:7
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tNumber {
			return nil, p.unexpected()
		}
		d, err := strconv.Atoi(p.tok.text)
		if err != nil || d < 0 {
			return nil, p.unexpected()
		}
		n.days = d
		n.lit.text += ":" + p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return n, nil
}
