package salesforcetest

import "strings"

// base62 is in ASCII order, so ids made from increasing numbers sort in the
// order they were issued.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const checksumChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"

// makeID returns the n-th 18-character id of an object with the given key
// prefix: the prefix, an instance part, n in base 62, and the checksum.
func makeID(prefix string, n uint64) string {
	var b [15]byte
	copy(b[:3], prefix)
	b[3], b[4] = 'D', 'm'
	for i := 14; i >= 5; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	return string(b[:]) + checksum(string(b[:]))
}

// checksum is the three-character suffix that makes a 15-character id
// case-insensitive: each character encodes which of five characters are
// upper-case letters.
func checksum(id15 string) string {
	var out [3]byte
	for chunk := range 3 {
		flags := 0
		for j := range 5 {
			if c := id15[chunk*5+j]; c >= 'A' && c <= 'Z' {
				flags |= 1 << j
			}
		}
		out[chunk] = checksumChars[flags]
	}
	return string(out[:])
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// looksLikeID reports whether s has the shape of a record id: 15 or 18
// letters and digits.
func looksLikeID(s string) bool {
	return (len(s) == 15 || len(s) == 18) && isAlnum(s)
}

// canonicalID returns the 18-character form of a 15- or 18-character id,
// restoring the case of an 18-character id from its checksum, as Salesforce
// does; ok is false when s is not a well-formed id.
func canonicalID(s string) (string, bool) {
	if !looksLikeID(s) {
		return "", false
	}
	if len(s) == 15 {
		return s + checksum(s), true
	}
	b := []byte(s[:15])
	suffix := strings.ToUpper(s[15:])
	for chunk := range 3 {
		flags := strings.IndexByte(checksumChars, suffix[chunk])
		if flags < 0 {
			return "", false
		}
		for j := range 5 {
			c := b[chunk*5+j]
			upper := flags&(1<<j) != 0
			switch {
			case upper && c >= 'a' && c <= 'z':
				b[chunk*5+j] = c - 'a' + 'A'
			case !upper && c >= 'A' && c <= 'Z':
				b[chunk*5+j] = c - 'A' + 'a'
			case upper && !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'):
				return "", false // the checksum says letter, the id has a digit
			}
		}
	}
	id15 := string(b)
	return id15 + checksum(id15), true
}
