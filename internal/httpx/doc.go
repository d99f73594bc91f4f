// Package httpx builds the one HTTP client every crmkit adapter uses, so that
// retries, rate limiting, tracing, the size cap, the TLS policy and the
// redaction of secrets are written once and behave the same for Salesforce,
// HubSpot and Dynamics 365. It is plumbing: adapters import it, users do not.
//
// # The chain
//
// [Client.Do] runs a retry loop (hashicorp/go-retryablehttp, steered by a
// crm/retry Policy) around an *http.Client whose transport is, outermost
// first:
//
//	span     one OpenTelemetry client span per HTTP attempt, "HTTP GET", with
//	         crm.system, crm.operation, crm.object, http.request.method,
//	         url.path (never the query), server.address,
//	         http.response.status_code, crm.request_id and
//	         crm.quota.remaining; error status on 400 and above or a failure
//	size cap a body over Config.MaxResponseBytes fails with
//	         ErrResponseTooLarge (at once when Content-Length says so)
//	limiter  ratelimit.Limiter.Wait on the request's lane before sending;
//	         after the response, Observe(lane, Config.Observe(resp)), and a
//	         Pause of the lane for a 429's or 503's Retry-After, unless it
//	         is longer than the retry policy's MaxRetryAfter
//	Base     the auth layer's transport, over NewTransport's TLS policy
//
// Each attempt passes through the whole chain, so a retry waits for the
// limiter, is traced, and carries fresh credentials.
//
// # Building an adapter's client
//
// An adapter builds one Client when its own client is built, from its
// options, and keeps it:
//
//	hc, err := httpx.New(httpx.Config{
//		CRM:              "salesforce",
//		Retry:            retry.New(),
//		Limiter:          ratelimit.New(ratelimit.WithDailyGuard(0.9)),
//		Observe:          observeLimitInfo, // reads Sforce-Limit-Info
//		CheckResponse:    checkResponse,    // parses [{"errorCode":...,"message":...}]
//		RequestIDHeaders: []string{"Sforce-Call-Id"},
//		Base:             authTransport,    // the auth layer, over httpx.NewTransport(nil)
//		TracerProvider:   opts.TracerProvider,
//		Logger:           opts.Logger,
//	})
//
// and sends each request with Do, tagging its context with the operation:
//
//	ctx = httpx.WithOperation(ctx, "query", "Contact")
//	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
//	resp, err := hc.Do(req) // err is a *crm.Error, or wraps context.Canceled or DeadlineExceeded
//	if err != nil {
//		return err
//	}
//	defer resp.Body.Close()
//
// # Errors
//
// Do's error is a *crm.Error, except when the caller's context ended first.
//
// A response of 400 or above becomes a *crm.Error built by
// Config.CheckResponse (or [DefaultCheckResponse]) from the status and the
// body, then completed with the status, the CRM's request id, Retry-After and
// the operation and object. A failure to get any response is a *crm.Error:
//
//   - KindUnavailable, wrapping the cause, when it may be transient (a
//     refused or reset connection, a timeout);
//   - KindInvalidRequest when sending again cannot help, with a message
//     that names the cause and the fix: a certificate that does not verify
//     (trust its CA through RootCAs), a server without TLS 1.2 or newer, a
//     redirect crmkit refuses (wrapping [ErrRedirectRefused] or
//     [ErrTooManyRedirects]), plain http to anything but localhost, a body
//     over the cap (wrapping [ErrResponseTooLarge]);
//   - the Kind of a *crm.Error that the limiter or Base returned: the daily
//     guard's KindQuotaExhausted, KindRateLimited for a lane paused past the
//     context's deadline (its RetryAfter says how long), the auth layer's
//     KindUnauthorized.
//
// When the caller's context ends, or its deadline would pass while the
// limiter paces the lane, the error wraps context.Canceled or
// context.DeadlineExceeded and is not a *crm.Error, since the caller, not the
// CRM, decided.
//
// # Retries
//
// A failed attempt is retried when the Policy's Decide says so: only for
// idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE; a request marked
// with [MarkIdempotent], such as an upsert by external id; a request whose
// context is marked with retry.MarkIdempotent; or one that carries an
// Idempotency-Key header), only for retryable failures, and after the
// backoff, or after the CRM's Retry-After plus a jitter. A retry whose wait
// would outlast the request's deadline is not made. The request body, with
// its Content-Length, is replayed on each attempt and on each 307 or 308
// redirect. Certificate, TLS version and redirect failures are never
// retried.
//
// [MarkIdempotent] marks one request, through an internal header that the
// transport removes before sending; retry.MarkIdempotent marks a context,
// and so every request made with a context derived from it.
//
// # Redirects
//
// Redirects are followed only within the original request's scheme, host
// and port, at most 10 of them. The auth layer adds credentials on every hop,
// so a redirect to another host (or from https to http) would hand the token
// to it; such a redirect fails the request instead.
//
// # Secrets
//
// Nothing this package produces holds a query string, user info, a token or a
// password: URLs in errors are cut to scheme, host and path (also those of a
// *url.Error deep in a chain), and every quoted body and error text passes
// through [Redact]. Redaction keeps the error's shape: a *crm.Error stays
// one, of the same Kind; a *url.Error stays one; errors.Is still finds the
// original's sentinels. [Client.HTTPClient] returns net/http's own errors,
// which hold the URL; pass them through [RedactError].
//
// # TLS and plain http
//
// Connections use [TLSConfig]: TLS 1.2 or newer, certificates always
// verified. [New] refuses a Base *http.Transport that skips verification or
// allows an older version, and RootCAs together with a Base that would ignore
// them. Plain http goes only to "localhost" and loopback IP literals (for
// emulators), and never through a proxy.
package httpx
