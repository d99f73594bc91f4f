package emulator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/crmkit/crmkit/internal/emulator"
)

// An emulator wraps its protocol handler in a Log and an Injector; a test
// then aims faults at routes and counts the calls a client made.
func Example() {
	route := func(r *http.Request) string { return "query" }
	log := emulator.NewLog(0)
	faults := emulator.NewInjector()
	org := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"done":true}`) })
	srv := httptest.NewServer(log.Middleware(route, faults.Middleware(route, org)))
	defer srv.Close()
	defer faults.Stop()

	faults.Inject("query", 1, emulator.Status(http.StatusServiceUnavailable, nil, []byte("busy")))
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode)
	}
	fmt.Println("queries served:", log.Count("query"), "faults:", faults.Injected())
	// Output:
	// 503
	// 200
	// queries served: 2 faults: 1
}
