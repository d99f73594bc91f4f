// Command crmkit is crmkit's command-line tool. Today it has one command,
// emulate, which runs one of crmkit's CRM emulators as a standalone server
// on a loopback port, so that a team can point any client at it (curl,
// a Salesforce client in another language, a browser) instead of a shared
// sandbox org:
//
//	go run ./cmd/crmkit emulate salesforce --addr 127.0.0.1:8081 --token dev-token --seed seed.json
//	go run ./cmd/crmkit emulate hubspot    --addr 127.0.0.1:8082 --token pat-na1-dev
//	go run ./cmd/crmkit emulate dynamics   --addr 127.0.0.1:8083 --token dev-token
//
// It prints the server's URL and the bearer token to use, then serves until
// interrupted. The seed file is JSON: an object mapping object names to
// arrays of records, written as the CRM's own JSON writes them, such as
// {"Account": [{"Name": "Acme"}], "Contact": [{"LastName": "Lovelace"}]}.
// Each emulator's package documentation (salesforcetest, hubspottest,
// dynamicstest) lists the routes it serves, with a curl session.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "crmkit:", err)
		os.Exit(2)
	}
}

const usage = `usage: crmkit emulate <salesforce|hubspot|dynamics> [--addr host:port] [--token token] [--seed file.json]`

// run parses args and runs the command until ctx ends. It writes the
// server's address and token to out once the server is listening.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) < 2 || args[0] != "emulate" {
		return errors.New(usage)
	}
	crmName := args[1]
	fs := flag.NewFlagSet("emulate "+crmName, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	token := fs.String("token", "", "the bearer token the emulator accepts (a generated one when empty, for Salesforce)")
	seed := fs.String("seed", "", "a JSON file of records to load before serving")
	if err := fs.Parse(args[2:]); err != nil {
		return fmt.Errorf("%v\n%s", err, usage)
	}
	var seedData []byte
	if *seed != "" {
		b, err := os.ReadFile(*seed)
		if err != nil {
			return fmt.Errorf("reading the seed file: %w", err)
		}
		seedData = b
	}
	srv, err := startEmulator(crmName, *addr, *token, seedData)
	if err != nil {
		return err
	}
	defer srv.close()
	fmt.Fprintf(out, "crmkit: %s emulator listening on %s\n", crmName, srv.url)
	if srv.token != "" {
		fmt.Fprintf(out, "crmkit: send Authorization: Bearer %s\n", srv.token)
	}
	<-ctx.Done()
	return nil
}
