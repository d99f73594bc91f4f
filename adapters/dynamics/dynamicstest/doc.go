// Package dynamicstest is an emulated Microsoft Dataverse environment (the
// data platform of Dynamics 365) that speaks the Web API v9.2 as the real
// service does, for tests of code that uses crmkit's Dynamics adapter, or
// any other Dataverse client, without a real environment.
//
// In a test, [New] starts a server on a loopback port and closes it when the
// test ends:
//
//	srv := dynamicstest.New(t)
//	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()))
//
// Outside a test, [NewServer] does the same on the address of [WithAddr],
// so that clients in other languages can use it unchanged; srv.URL is the
// environment URL (what https://contoso.crm.dynamics.com is for a real one)
// and the Web API is under it at [APIPath].
//
// # The environment
//
// A new server has the tables of [SeedTables]: account, contact, lead,
// opportunity and systemuser, with the columns integrations use most, and
// crmkit_project, a custom table of the publisher prefix crmkit_. Change
// tracking is on for account and contact; account, contact and
// crmkit_project have an alternate key of one column. [WithTables] declares
// more tables (or replaces seed ones) with their columns, choices (option
// sets with numeric values and labels), lookups and alternate keys;
// [WithChangeTracking] turns change tracking on per table; [Server.Seed]
// loads fixtures. Data lives in crmkit's in-memory store, one store per
// server. Every row has an ETag that changes on every write, createdon,
// modifiedon (to the second, as the Web API reports them), and createdby
// and modifiedby set to the caller.
//
// # What it serves
//
//   - The service document, $metadata (CSDL) and EntityDefinitions, with
//     $select, $filter and $expand of Attributes (with type casts and
//     OptionSet), Keys and ManyToOneRelationships.
//   - Entity sets: GET with $select, $filter (comparisons, and, or, not,
//     contains, null, with OData's literal rules and type checks; contains'
//     argument is read as Dataverse's LIKE pattern, where [x] is the
//     character x, and a real wildcard % or _ is answered 501 so that a
//     client that forgets to escape one is caught), $orderby,
//     $count and $top; paging with Prefer: odata.maxpagesize and an absolute
//     @odata.nextLink built from the host the client used; $skip refused.
//   - Records by primary key or alternate key: GET (304 for a matching
//     If-None-Match), POST (204 with OData-EntityId, or 201 with Prefer:
//     return=representation), PATCH as upsert, update (If-Match: *) or
//     conditional update (If-Match with an ETag, 412 on a mismatch), create
//     only (If-None-Match: *), DELETE; lookups set with @odata.bind.
//   - Change tracking: Prefer: odata.track-changes, delta links,
//     $deletedEntity rows; $filter, $orderby, $expand and $top refused with
//     it; the preference ignored for a table without change tracking.
//   - $batch: nested multipart parsed leniently (quoted or bare boundaries,
//     leading blank lines), up to 1000 operations, change sets applied all
//     or nothing with $n references in URLs and bodies, stop at the first
//     failure unless Prefer: odata.continue-on-error, responses with
//     batchresponse_ and changesetresponse_ boundaries and no preamble.
//   - WhoAmI, and acting on behalf of a user with CallerObjectId or
//     MSCRMCallerID, or as the user a delegated token signed in.
//
// Errors have Dataverse's body, {"error":{"code":"0x80040217","message":...}},
// its codes and its status codes; every response has a REQ_ID.
//
// # Limits, faults and the log
//
// Service protection is on, with Dataverse's limits per caller (6000
// requests and 20 minutes of execution time in 300 seconds, 52 at once):
// exceeding them gives 429 with Retry-After and the limit's code, and every
// response carries x-ms-ratelimit-burst-remaining-xrm-requests. Lower them
// with [WithServiceProtection] to test throttling. [Server.Faults] injects
// faults by route (5xx, timeouts, resets, slow responses, [Throttle]d 429s,
// [ErrorFault]s; a 401 is an expired token), and [Server.Log] records every
// request with its route and status and counts them, so a test can assert
// how many calls a piece of code made:
//
//	srv.Faults().Inject("batch", 1, dynamicstest.Throttle(dynamicstest.CodeRequests, 5*time.Second))
//	...
//	if n := srv.Log().Count("batch"); n != 10 { ... }
//
// [WithBearerToken] makes the server require a bearer token. For tests in a
// testing/synctest bubble, [Server.Transport] serves requests in-process, so
// that no goroutine waits on a socket and the fake clock can run.
//
// # Microsoft Entra
//
// [WithEntra] adds an emulated Entra tenant with registered apps
// ([EntraApp]: a client id with a secret, a certificate, or both, and
// redirect URIs for the authorization code flow; an app with only redirect
// URIs is a public client). It runs
// on its own TLS listener, since Microsoft's libraries refuse an authority
// over plain http; [Server.EntraURL] is the authority (what
// https://login.microsoftonline.com/{tenant} is for the real one) and
// [Server.EntraCertPool] or [Server.EntraClient] trust its certificate. It
// serves the OpenID configuration document
// ({authority}/v2.0/.well-known/openid-configuration), the signing keys
// ({authority}/discovery/v2.0/keys) and the token endpoint
// ({authority}/oauth2/v2.0/token) for the client credentials grant, with
// client_secret (in the form or HTTP Basic) or a client assertion (a JWT
// signed RS256 or PS256 with the app's certificate key, checked for its
// signature, thumbprint, aud, iss, sub, exp, nbf and jti), and the scope
// {environment URL}/.default ([Server.EntraScope]). Refusals carry Entra's
// body and AADSTS codes: 7000215 (wrong secret), 700027 (bad signature or
// unknown key), 700024 (assertion out of its time range), 700016 (unknown
// client), 70011 (bad scope), among others. With WithEntra the Web API
// requires the tokens it issues (or the token of WithBearerToken) and
// refuses them once expired, after 3599 seconds by the server's clock:
//
//	srv := dynamicstest.New(t, dynamicstest.WithEntra("contoso.onmicrosoft.com",
//		dynamicstest.EntraApp{ClientID: appID, ClientSecret: secret}))
//	creds := clientcredentials.Config{ClientID: appID, ClientSecret: secret,
//		TokenURL: srv.EntraURL() + "/oauth2/v2.0/token", Scopes: []string{srv.EntraScope()}}
//	ctx := context.WithValue(ctx, oauth2.HTTPClient, srv.EntraClient())
//	drv, err := dynamics.New(dynamics.WithBaseURL(srv.URL), dynamics.WithHTTPClient(srv.Client()),
//		dynamics.WithTokenSource(creds.TokenSource(ctx)))
//
// For delegated use, [WithEntraUsers] declares the tenant's users
// ([EntraUser]), who also become systemusers of the environment. The
// authorization endpoint ({authority}/oauth2/v2.0/authorize,
// [Server.EntraAuthorizeURL]) signs in the user the login_hint names (or
// the first one) without a page and redirects at once to the registered
// redirect_uri with code and state (response_mode query, fragment or
// form_post). It wants response_type=code and the scope
// {environment URL}/user_impersonation or /.default ([Server.EntraUserScope]),
// with offline_access for a refresh token and openid for an ID token, and
// takes a PKCE challenge (S256, or plain when no method is given). Bad
// requests go back to the redirect URI with error, error_description and
// state; a missing or unknown client or an unregistered redirect URI
// (AADSTS50011, compared exactly, but for the port of a loopback address)
// and an unknown login_hint (AADSTS50034) are answered in place, where
// Entra shows its error page. The token endpoint's authorization_code
// grant redeems a code once (54005 after), within 10 minutes (70008), for
// the app it was issued to, with the same redirect_uri (70000) and the
// PKCE verifier (501481 for a wrong one, 50148 for none); confidential
// clients authenticate as for client credentials, public clients not at
// all (700025 if they try). Delegated access tokens carry scp
// user_impersonation, idtyp user and the user's oid, upn and name, and
// with one the Web API acts as the signed-in user, as Dataverse does: the
// systemuser whose azureactivedirectoryobjectid is the token's oid is
// WhoAmI's UserId and the createdby and modifiedby of what it writes; a
// user who is not a systemuser of the environment gets 403 with code
// 0x80072560 ("The user is not a member of the organization."). App-only
// tokens act as the application user, and a CallerObjectId or
// MSCRMCallerID header overrides either. The refresh_token grant
// returns a new refresh token and, as Entra does, leaves the old one valid
// until 90 days after it was issued (700082) or until
// [Server.RevokeEntraSessions] (50173):
//
//	srv := dynamicstest.New(t, dynamicstest.WithEntra(tenant,
//		dynamicstest.EntraApp{ClientID: appID, ClientSecret: secret, RedirectURIs: []string{"https://app.example/cb"}}),
//		dynamicstest.WithEntraUsers(dynamicstest.EntraUser{ObjectID: oid, UserPrincipalName: "ada@contoso.onmicrosoft.com"}))
//	// GET cfg.AuthCodeURL(...) with a client that does not follow redirects;
//	// the Location header carries the code.
//
// Entra requests are in the request log and open to faults under the
// routes "openid-configuration", "keys", "authorize" and "token".
//
// # Where it differs from Dataverse
//
// The emulator keeps what integrations rely on and leaves out the rest:
// alternate keys have one column; $expand on records, $apply, FetchXML,
// startswith and endswith, and navigation-property requests answer 501;
// a rolled-back change set's creates leave delete entries in the change
// feed, and its updates a new ETag; reads are not isolated from a change
// set in progress. Choices that the reference could not confirm (the error
// for a delta token on a table without change tracking, the status of a
// duplicate-key create) follow the most likely behaviour and are marked in
// the code. The Entra tenant serves the client credentials, authorization
// code and refresh token grants (no device code, on-behalf-of or
// implicit flow), asks no consent and applies no conditional access, and
// every app-only token acts as the environment's one application user.
// No caller's security roles are checked, nor a signed-in user's
// isdisabled; in an environment without a systemuser table a delegated
// token acts as no one, as app-only tokens do there. The codes the reference
// could not confirm are marked in the code: 50013 for an assertion with
// the wrong audience, 70000 for an unknown code or refresh token or one of
// another app, 50148 for a missing PKCE verifier, 9002313 for an unknown
// response_mode or code_challenge_method. A refused redemption leaves the
// code usable.
package dynamicstest
