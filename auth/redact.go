package auth

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// view is what a value that holds credentials shows of itself: its type
// and the attributes safe to show, each credential reduced to whether it
// is set. Every type in auth that holds a secret, a token, a private key or
// an assertion prints (String, GoString, and Format for every verb, so
// that %v, %+v, %#v, %s, %q and %d agree) and logs (LogValue, for slog's
// text and JSON handlers) through its view. A field added to such a type
// shows nothing until its view names it, so deciding whether it may be
// shown happens in one place.
type view struct {
	typ   string
	attrs []slog.Attr
}

// String renders the view as typ{key=value ...}.
func (v view) String() string {
	var b strings.Builder
	b.WriteString(v.typ)
	b.WriteByte('{')
	for i, a := range v.attrs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		switch val := a.Value.Resolve(); val.Kind() {
		case slog.KindTime:
			b.WriteString(val.Time().UTC().Format(time.RFC3339))
		case slog.KindAny:
			fmt.Fprint(&b, val.Any())
		default:
			b.WriteString(val.String())
		}
	}
	b.WriteByte('}')
	return b.String()
}

// format writes String whatever the verb and flags: a Format method that
// calls it leaves fmt no way to reach the fields.
func (v view) format(f fmt.State) { _, _ = io.WriteString(f, v.String()) }

// LogValue logs the attributes as a group.
func (v view) LogValue() slog.Value { return slog.GroupValue(v.attrs...) }

// json encodes the attributes as one object, for the MarshalJSON of types
// encoding/json would otherwise encode field by field.
func (v view) json() ([]byte, error) {
	m := make(map[string]any, len(v.attrs))
	for _, a := range v.attrs {
		m[a.Key] = a.Value.Resolve().Any()
	}
	return json.Marshal(m)
}

// hidden shows a credential only as set ([REDACTED]) or not ((none)).
func hidden(key, credential string) slog.Attr { return slog.String(key, redacted(credential)) }

// hiddenKey shows a private key only as set or not.
func hiddenKey(key string, k *rsa.PrivateKey) slog.Attr {
	if k == nil {
		return slog.String(key, "(none)")
	}
	return slog.String(key, "[REDACTED]")
}

// urlAttr shows a URL without the password of its userinfo, should one
// have been written into it; a string that does not parse as a URL is
// hidden if it might hold userinfo.
func urlAttr(key, raw string) slog.Attr {
	u, err := url.Parse(raw)
	switch {
	case err != nil && strings.Contains(raw, "@"):
		raw = "[REDACTED: not a URL]"
	case err == nil && u.User != nil:
		raw = u.Redacted()
	}
	return slog.String(key, raw)
}

// typeAttr names the dynamic type of a value whose own printing auth does
// not control (a caller's TokenSource, SecretStore or Refresher).
func typeAttr(key string, v any) slog.Attr { return slog.String(key, fmt.Sprintf("%T", v)) }

// keysAttr shows the keys of a map whose values may be sensitive.
func keysAttr[V any](key string, m map[string]V) slog.Attr {
	return slog.Any(key, slices.Sorted(maps.Keys(m)))
}
