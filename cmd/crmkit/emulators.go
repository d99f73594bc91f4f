package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"

	"github.com/crmkit/crmkit/adapters/dynamics/dynamicstest"
	"github.com/crmkit/crmkit/adapters/hubspot/hubspottest"
	"github.com/crmkit/crmkit/adapters/salesforce/salesforcetest"
)

// emulator is a running standalone emulator.
type emulator struct {
	url   string
	token string // the bearer token to send; empty when any is accepted
	close func()
}

// startEmulator starts the named emulator on addr, which must be a loopback
// address: an emulator accepts test tokens and speaks plain http, so it is
// never offered to the network.
func startEmulator(name, addr, token string, seed []byte) (*emulator, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: want host:port, such as 127.0.0.1:8081", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--addr %q: an emulator listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
	}
	switch name {
	case "salesforce":
		opts := []salesforcetest.Option{salesforcetest.WithAddr(addr)}
		if token != "" {
			opts = append(opts, salesforcetest.WithToken(token))
		}
		srv, err := salesforcetest.NewServer(opts...)
		if err != nil {
			return nil, err
		}
		if seed != nil {
			if err := srv.LoadSeed(bytes.NewReader(seed)); err != nil {
				srv.Close()
				return nil, fmt.Errorf("seed: %w", err)
			}
		}
		return &emulator{url: srv.URL, token: srv.Token(), close: srv.Close}, nil
	case "hubspot":
		var opts []hubspottest.Option
		opts = append(opts, hubspottest.WithAddr(addr))
		if token != "" {
			opts = append(opts, hubspottest.WithTokens(token))
		}
		srv, err := hubspottest.NewServer(opts...)
		if err != nil {
			return nil, err
		}
		if seed != nil {
			var data map[string][]map[string]string
			if err := seedEach(seed, &data, func() error {
				for object, recs := range data {
					if _, err := srv.Seed(object, recs...); err != nil {
						return fmt.Errorf("%s: %w", object, err)
					}
				}
				return nil
			}); err != nil {
				srv.Close()
				return nil, err
			}
		}
		return &emulator{url: srv.URL, token: token, close: srv.Close}, nil
	case "dynamics":
		var opts []dynamicstest.Option
		opts = append(opts, dynamicstest.WithAddr(addr))
		if token != "" {
			opts = append(opts, dynamicstest.WithBearerToken(token))
		}
		srv, err := dynamicstest.NewServer(opts...)
		if err != nil {
			return nil, err
		}
		if seed != nil {
			var data map[string][]map[string]any
			if err := seedEach(seed, &data, func() error {
				for table, recs := range data {
					if _, err := srv.Seed(table, recs...); err != nil {
						return fmt.Errorf("%s: %w", table, err)
					}
				}
				return nil
			}); err != nil {
				srv.Close()
				return nil, err
			}
		}
		return &emulator{url: srv.URL, token: token, close: srv.Close}, nil
	}
	return nil, fmt.Errorf("unknown CRM %q: use salesforce, hubspot or dynamics", name)
}

// seedEach decodes a seed file into v and then loads it.
func seedEach(seed []byte, v any, load func() error) error {
	if err := json.Unmarshal(seed, v); err != nil {
		return fmt.Errorf("seed: the file is not a JSON object of object names to arrays of records: %w", err)
	}
	if err := load(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}
