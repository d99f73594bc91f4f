package storecheck

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// EncodeHashes gives a link's field hashes as a JSON object, "" when there
// are none. JSON would silently replace invalid UTF-8, which would change a
// hash, so a field name or hash that is not UTF-8 is refused, naming it; what
// says where the map came from.
func EncodeHashes(what string, m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	for k, v := range m {
		if !utf8.ValidString(k) {
			return "", fmt.Errorf("%s: field name %.60q is not valid UTF-8; field names and hashes must be UTF-8 text", what, k)
		}
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("%s of field %q: hash %.60q is not valid UTF-8; use a hex or base64 hash", what, k, v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return string(b), nil
}

// DecodeHashes reads what EncodeHashes wrote; "" and an empty object are
// nil.
func DecodeHashes(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
