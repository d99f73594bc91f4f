package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startRun runs the command in the background and returns the URL it
// prints once it is listening.
func startRun(t *testing.T, args ...string) (url, token string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if _, u, ok := strings.Cut(line, "listening on "); ok {
			url = u
		}
		if _, tk, ok := strings.Cut(line, "Bearer "); ok {
			token = tk
		}
		if url != "" && (token != "" || !strings.Contains(strings.Join(args, " "), "--token")) {
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			return url, token
		}
	}
	t.Fatalf("the command ended before listening: %v", sc.Err())
	return "", ""
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEmulateSalesforceWithSeed(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(seed, []byte(`{"Account":[{"Name":"Acme"},{"Name":"Globex"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	url, token := startRun(t, "emulate", "salesforce", "--addr", "127.0.0.1:0", "--token", "dev-token", "--seed", seed)
	if token != "dev-token" {
		t.Fatalf("token %q, want the one given", token)
	}
	status, body := get(t, url+"/services/data/v63.0/query?q=SELECT+Name+FROM+Account+ORDER+BY+Name", token)
	if status != 200 {
		t.Fatalf("query: %d %s", status, body)
	}
	var res struct {
		TotalSize int
		Records   []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.TotalSize != 2 || res.Records[0].Name != "Acme" {
		t.Fatalf("query result %s (%v)", body, err)
	}
	if status, _ := get(t, url+"/services/data/v63.0/query?q=SELECT+Name+FROM+Account", "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("a wrong token got %d, want 401", status)
	}
}

func TestEmulateHubSpotAndDynamics(t *testing.T) {
	url, token := startRun(t, "emulate", "hubspot", "--token", "pat-na1-dev")
	if status, body := get(t, url+"/crm/v3/objects/contacts", token); status != 200 {
		t.Fatalf("hubspot list: %d %s", status, body)
	}
	url, token = startRun(t, "emulate", "dynamics", "--token", "dev-token")
	if status, body := get(t, url+"/api/data/v9.2/accounts", token); status != 200 || !strings.Contains(body, `"value"`) {
		t.Fatalf("dynamics list: %d %s", status, body)
	}
}

func TestEmulateRefusesBadInput(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"emulate"}, "usage"},
		{[]string{"emulate", "zoho"}, `unknown CRM "zoho"`},
		{[]string{"emulate", "salesforce", "--addr", "0.0.0.0:8081"}, "loopback only"},
		{[]string{"emulate", "salesforce", "--addr", "nonsense"}, "want host:port"},
		{[]string{"emulate", "salesforce", "--seed", "/no/such/file.json"}, "reading the seed file"},
		{[]string{"emulate", "hubspot", "--bogus"}, "flag provided but not defined"},
	} {
		err := run(t.Context(), tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
