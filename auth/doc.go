// Package auth will hold crmkit's OAuth 2.0 token sources for each CRM's
// flows, token rotation through a versioned secret store, and redaction of
// credentials.
//
// It is not built yet. Until it is, the TLS policy crmkit applies to every
// connection (TLS 1.2 minimum, system roots, never InsecureSkipVerify) lives in
// crmkit's internal HTTP plumbing, and adapters accept any http.RoundTripper
// (for example one from golang.org/x/oauth2) to authenticate requests.
package auth
