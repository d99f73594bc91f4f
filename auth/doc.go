// Package auth gets, caches and refreshes the OAuth 2.0 tokens crmkit's
// adapters send to Salesforce, HubSpot and Dynamics 365, rotates refresh
// tokens safely across workers, and keeps every credential out of errors
// and logs. It sits below the crm contract and depends only on the
// standard library and golang.org/x/oauth2.
//
// # Token sources
//
// A TokenSource returns a *Token for a context: unlike oauth2.TokenSource,
// a fetch is cancelled with the call that needed it. FromOAuth2 and OAuth2
// convert in both directions. Each flow is a config struct whose
// TokenSource method fetches a new token on every call:
//
//	Flow                                  Type                          Server
//	Salesforce JWT bearer (RS256)         SalesforceJWT                 /services/oauth2/token
//	Salesforce client credentials         SalesforceClientCredentials   My Domain token endpoint
//	Salesforce web server + PKCE, refresh SalesforceWebServer → *AuthCodeFlow
//	Entra client credentials (secret)     EntraClientCredentials        {authority}/oauth2/v2.0/token
//	Entra client credentials (certificate) EntraClientCredentials{Certificate, Key}
//	Entra authorization code + PKCE       EntraAuthCode                 {authority}/oauth2/v2.0/authorize, token
//	HubSpot authorization code, refresh   HubSpotApp → *AuthCodeFlow    /oauth/v1/token
//	HubSpot private app                   HubSpotPrivateApp (Static)    none
//
// Salesforce's InstanceURL arrives on the Token; pass it to the adapter.
// EntraScope(orgURL) is the Dataverse scope https://{org}/.default.
//
// EntraAuthCode is for delegated use: the app acts in Dataverse as the
// user who signed in, with their security roles. Its scopes default to
// EntraUserScope(OrgURL) (https://{org}/user_impersonation) and
// offline_access; a web app authenticates with ClientSecret or, better,
// Certificate and Key, and a public client (desktop, mobile) with neither:
//
//	flow := auth.EntraAuthCode{Authority: auth.EntraLogin + "/" + tenant, ClientID: appID,
//		Certificate: cert, Key: key, RedirectURL: "https://app.example/callback", OrgURL: orgURL}
//	http.Redirect(w, r, flow.AuthCodeURL(state, verifier), http.StatusFound) // keep state and verifier
//	tok, err := flow.Exchange(ctx, code, verifier)                           // in the redirect handler
//	src := auth.Reuse(flow.TokenSource(tok.RefreshToken))
//
// Entra gives a new refresh token on every refresh and leaves the old one
// valid, so workers that refresh at once do not revoke each other; keep
// the newest anyway (TokenSource does in memory, Rotating in a store), as
// each lapses 90 days after it was issued.
//
// # Any OpenID provider
//
// Discover reads a provider's discovery document (issuer +
// /.well-known/openid-configuration), checks that it names the same issuer
// and only https endpoints (plain http on loopback only, for tests), and
// returns a *Provider whose methods wire the standard flows to it:
//
//	p, err := auth.Discover(ctx, "https://idp.example.com/realms/crm", nil)
//	cc := p.ClientCredentials(clientID, clientSecret, "crm.read") // *ClientCredentials
//	ac := p.AuthCode(clientID, clientSecret, redirectURL, "openid", "offline_access") // *AuthCodeFlow
//	jb := p.JWTBearer(clientID, clientSecret, "crm.read") // *JWTBearer (RFC 7523)
//
// ClientAuth chooses how a client secret travels (ClientSecretBasic,
// ClientSecretPost); the provider's advertised methods pick the default.
// NewState and NewVerifier make the state and PKCE verifier of an
// authorization request. These flows are tested against Ory Hydra.
//
// # Composing sources
//
// Wrap a flow in Reuse, which caches the token, refreshes it at 80% of its
// lifetime (WithRefreshAt, WithClock), makes concurrent callers wait for
// one fetch, and drops it on Invalidate; then in Transport, which sets the
// Authorization header and, on a 401, invalidates, refreshes once and
// retries once (bodies replayed through GetBody):
//
//	src := auth.Reuse(auth.SalesforceJWT{
//		ClientID: consumerKey, Username: "integration@example.com", Key: key,
//	}.TokenSource())
//	client := &http.Client{Transport: &auth.Transport{Source: src}}
//
// # Rotation across workers
//
// Servers that rotate refresh tokens revoke the whole chain when an old one
// is replayed, so workers sharing one must not refresh at once. Rotating
// keeps the token in a SecretStore (MemoryStore; FileStore: mode 0600,
// atomic rename, flock; PostgreSQL in auth/secretstore/postgres; Vault
// KV v2 in auth/secretstore/vault) with versioned CompareAndSwap: a worker
// that finds the token expired claims the refresh; only the winner calls
// the server, and it stores the rotated refresh token before the new access
// token is used; the others re-read until it appears. Seed stores the first
// token. One Rotating serves all the goroutines of a process (they share
// one trip to the store); wrap it in Reuse to keep the token in memory.
// auth/secretstore/secretstoretest is the conformance suite every store
// passes.
//
// # Errors
//
// A token endpoint's refusal is a *RetrieveError naming the flow, the
// server's error code and description, and the fix. IsUnauthorized(err)
// (or errors.Is(err, ErrUnauthorized)) tells refused credentials (wrong
// secret, expired assertion, revoked refresh token) from an unreachable
// server.
//
// # Redaction and TLS
//
// Every auth type that holds a credential (Token, Secret, the flow
// configurations, Rotating, ReuseSource, MemoryStore, the Static source)
// prints, formats and logs without it: String, GoString, a Format that
// answers every fmt verb alike, and LogValue show the useful fields and
// reduce each secret, token, private key and stored value to [REDACTED];
// Token and Secret encode as JSON the same way. A source, store or
// refresher of the caller's own is shown by type only. Errors never
// contain a secret, token, assertion, code or verifier the request
// carried. TLSConfig is the TLS policy (TLS 1.2 minimum, system roots
// unless a pool is given, verification always on) used by the default
// client of every flow.
package auth
