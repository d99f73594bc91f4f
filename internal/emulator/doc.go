// Package emulator holds the pieces crmkit's CRM emulators share, whatever
// protocol they speak: a request [Log] with per-route counters, an
// [Injector] of faults (chosen or random error statuses, timeouts,
// connection resets, slow responses, and failures after the work is done),
// and an [Allocation] that counts requests against a daily quota over a
// rolling window. Each emulator (salesforcetest, hubspottest, dynamicstest)
// wraps its protocol handler in these and adds only its own error bodies and
// headers; the data itself lives in internal/memstore.
//
// It is plumbing: emulator packages import it, users do not. Users reach its
// types through the emulators, which return them from their Log and Faults
// methods.
//
// # Routes
//
// Every piece works on route names: short, stable names for what a request
// does ("query", "collections.upsert"), chosen by the emulator with a
// [RouteFunc]. The log counts by route and faults are aimed at routes, so a
// test says "the second query fails with a 503", not "the second request to
// a URL matching this pattern".
//
// # Wiring
//
// An emulator builds its handler inside out, log outermost, so that the log
// sees the faults too:
//
//	route := func(r *http.Request) string { return "query" }
//	log := emulator.NewLog(0)
//	faults := emulator.NewInjector()
//	h := log.Middleware(route, faults.Middleware(route, protocolHandler))
//	srv := httptest.NewServer(h)
//	defer srv.Close()
//	defer faults.Stop() // before Close: releases requests held by Timeout faults
//
//	faults.Inject("query", 1, emulator.Status(503, nil, []byte("busy")))
//	// ... the next query fails with 503, the one after succeeds ...
//	log.Count("query") // 2
package emulator
