// Package conflict decides what happens when the application and the CRM
// both changed the same field of a record since the last sync.
//
// The sync engine merges fields changed on one side only by itself; it calls
// a Resolver only for contested fields, changed on both sides to different
// values, and logs every decision with both values and the reason. A
// Resolver returns a Decision: a winning side for each contested field, or
// Park to hold the record for a person (the engine lists parked records and
// applies the decision given when one is released).
//
// The built-in resolvers compose:
//
//	conflict.NewestWins(2*time.Second, conflict.CRM) // the later change, unless the clocks are too close to tell
//	conflict.SourceOfTruth(conflict.App)             // one side always wins
//	conflict.Park("finance must approve")            // a person decides
//	conflict.PerField(map[string]conflict.Resolver{ // a rule per field, the rest by fallback
//		"status": conflict.SourceOfTruth(conflict.CRM),
//		"phone":  conflict.NewestWins(time.Second, conflict.App),
//	}, conflict.Park("review"))
//
// and Func adapts a function of the host's. A Decision that leaves a
// contested field without a winner is refused by the engine (Decision.Check),
// so a forgotten field fails loudly instead of losing a change.
package conflict
