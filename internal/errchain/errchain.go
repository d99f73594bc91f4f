package errchain

// Max bounds every walk of an error chain: no walk lists or visits more than
// Max errors, so a cyclic chain cannot loop forever.
const Max = 64

// Walk lists err and everything it wraps, depth first: an error comes before
// what it wraps, and the branches of an Unwrap() []error come in order. It
// returns nil for a nil err and at most [Max] errors, whatever the chain.
func Walk(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		for e != nil && len(out) < Max {
			out = append(out, e)
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					walk(x)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return out
}
