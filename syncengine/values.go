package syncengine

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// hashValue returns a short, stable hash of a normalised value. Two values
// that crm.EqualValues calls equal hash the same: decimals are hashed in
// lowest terms (1.50 and 1.5 agree), times in UTC. Only hashes are stored in
// links, never values, so the store holds no personal data for them.
func hashValue(v any) string {
	h := sha256.New()
	writeCanonical(h, v)
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

type byteWriter interface{ Write([]byte) (int, error) }

func writeCanonical(w byteWriter, v any) {
	put := func(tag byte, s string) {
		var n [binary.MaxVarintLen64]byte
		w.Write([]byte{tag})
		w.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		w.Write([]byte(s))
	}
	switch x := v.(type) {
	case nil:
		put('n', "")
	case string:
		put('s', x)
	case bool:
		put('b', strconv.FormatBool(x))
	case int64:
		put('d', strconv.FormatInt(x, 10)) // an integer is a decimal in lowest terms
	case crm.Decimal:
		r := x.Rat()
		if r.IsInt() {
			put('d', r.Num().String())
		} else {
			put('d', r.RatString())
		}
	case time.Time:
		put('t', x.UTC().Format(time.RFC3339Nano))
	case crm.Date:
		put('D', x.String())
	case []string:
		put('l', strconv.Itoa(len(x)))
		for _, s := range x {
			put('s', s)
		}
	default:
		put('?', fmt.Sprintf("%T:%v", v, v))
	}
}

// encodedValue is the outbox's encoding of one value: its kind and its text,
// so that a decimal stays exact and a date stays a date across a restart.
type encodedValue struct {
	K string   `json:"k"`
	V string   `json:"v,omitempty"`
	L []string `json:"l,omitempty"`
}

func encodeFields(f crm.Fields) (map[string]encodedValue, error) {
	if f == nil {
		return nil, nil
	}
	out := make(map[string]encodedValue, len(f))
	for k, v := range f {
		var e encodedValue
		switch x := v.(type) {
		case nil:
			e.K = "null"
		case string:
			e = encodedValue{K: "string", V: x}
		case bool:
			e = encodedValue{K: "bool", V: strconv.FormatBool(x)}
		case int64:
			e = encodedValue{K: "int", V: strconv.FormatInt(x, 10)}
		case crm.Decimal:
			e = encodedValue{K: "decimal", V: x.String()}
		case time.Time:
			e = encodedValue{K: "time", V: x.UTC().Format(time.RFC3339Nano)}
		case crm.Date:
			e = encodedValue{K: "date", V: x.String()}
		case []string:
			e = encodedValue{K: "list", L: append([]string{}, x...)}
		default:
			return nil, fmt.Errorf("syncengine: field %q holds a %T, which is not one of crmkit's normalised value kinds; convert it in the mapping (see crm.NormalizeValue)", k, v)
		}
		out[k] = e
	}
	return out, nil
}

func decodeFields(m map[string]encodedValue) (crm.Fields, error) {
	if m == nil {
		return nil, nil
	}
	out := make(crm.Fields, len(m))
	for k, e := range m {
		var (
			v   any
			err error
		)
		switch e.K {
		case "null":
		case "string":
			v = e.V
		case "bool":
			v, err = strconv.ParseBool(e.V)
		case "int":
			v, err = strconv.ParseInt(e.V, 10, 64)
		case "decimal":
			v, err = crm.ParseDecimal(e.V)
		case "time":
			var t time.Time
			t, err = time.Parse(time.RFC3339Nano, e.V)
			v = t.UTC()
		case "date":
			v, err = crm.ParseDate(e.V)
		case "list":
			l := e.L
			if l == nil {
				l = []string{}
			}
			v = l
		default:
			err = fmt.Errorf("unknown kind %q", e.K)
		}
		if err != nil {
			return nil, fmt.Errorf("syncengine: stored field %q cannot be decoded (%v); the entry was written by another version of crmkit or damaged", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// payload is what an outbox entry carries besides its addressing: the fields
// to write, in the target's names, and what the link will look like on the
// source's side once the write lands.
type payload struct {
	Fields        map[string]encodedValue `json:"fields,omitempty"`
	SourceVersion string                  `json:"sv,omitempty"`
	SourceHashes  map[string]string       `json:"sh,omitempty"`
	// Tombstone marks a delete or an archive: the link becomes a tombstone.
	Tombstone bool `json:"del,omitempty"`
}

func (p *payload) encode() ([]byte, error) { return json.Marshal(p) }

func decodePayload(b []byte) (*payload, error) {
	p := new(payload)
	if len(b) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, fmt.Errorf("syncengine: outbox payload cannot be decoded (%v); the entry was written by another version of crmkit or damaged", err)
	}
	return p, nil
}

// render prints a value for the decision log and reports.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []string:
		return "[" + strings.Join(x, ";") + "]"
	}
	return fmt.Sprint(v)
}
