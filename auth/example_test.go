package auth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/crmkit/crmkit/auth"
)

// A HubSpot private-app token, reused and sent by Transport.
func Example() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get("Authorization") == "Bearer pat-example")
	}))
	defer api.Close()
	src := auth.Reuse(auth.HubSpotPrivateApp("pat-example"))
	client := &http.Client{Transport: &auth.Transport{Source: src}}
	resp, err := client.Get(api.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	tok, _ := src.Token(context.Background())
	fmt.Println(string(b), tok)
	// Output: true auth.Token{type=Bearer access=[REDACTED]}
}
