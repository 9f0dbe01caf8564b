package scim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SCIM metrics (docs/observability.md). Labels are bounded: organization is a served
// organization's slug on requests its token was accepted for (or "" when the label is turned off,
// the name is not served or the request not the organization's own, so a flood without tokens
// cannot create series), resource and method come from fixed lists.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eio_scim_requests_total",
		Help: "SCIM requests answered, by organization, resource, method and status code.",
	}, []string{"organization", "resource", "method", "code"})
	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "eio_scim_request_duration_seconds",
		Help:    "Time to answer SCIM requests, by organization, resource and method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"organization", "resource", "method"})
	authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eio_scim_auth_failures_total",
		Help: "SCIM requests refused for a missing, wrong or disabled token, by organization.",
	}, []string{"organization"})
	// Rate limits (ratelimit.go): an organization over its spec.rateLimit, and sources over their
	// refusal budget, whose 429s are held in the tarpit while a slot is free.
	rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eio_scim_rate_limited_total",
		Help: "Authenticated SCIM requests answered 429 because the organization was over its rate limit, by organization.",
	}, []string{"organization"})
	refusalsThrottled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eio_scim_refusals_throttled_total",
		Help: "Refused SCIM requests (no or wrong token, unknown organization or endpoint) answered 429 because their source was over its refusal budget.",
	})
	tarpitted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eio_scim_tarpitted_total",
		Help: "Throttled refusals whose answer was held (the tarpit) before it was sent.",
	})
	tarpitFull = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eio_scim_tarpit_full_total",
		Help: "Throttled refusals answered at once because the tarpit held its maximum of requests.",
	})
)

// ForgetOrganization drops an organization's series when it is no longer served: otherwise every
// slug a tenant ever served (create, send requests, delete, again with a new slug) would keep its
// series, about a thousand each, in every replica's memory and every scrape.
func ForgetOrganization(org string) {
	labels := prometheus.Labels{"organization": org}
	requestsTotal.DeletePartialMatch(labels)
	requestDuration.DeletePartialMatch(labels)
	authFailures.DeletePartialMatch(labels)
	rateLimited.DeletePartialMatch(labels)
}

// RegisterMetrics adds the SCIM metrics to reg (controller-runtime's registry in the operator).
// Registering twice (several managers in one test process) keeps the first.
func RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{requestsTotal, requestDuration, authFailures,
		rateLimited, refusalsThrottled, tarpitted, tarpitFull} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

var (
	knownResources = map[string]bool{"Users": true, "Groups": true, "ServiceProviderConfig": true,
		"ResourceTypes": true, "Schemas": true, "Me": true, "Bulk": true, ".search": true}
	knownMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}
)

// metricLabels reads the bounded labels of a request under /scim/v2/{org}/{resource}.
func (s *Server) metricLabels(r *http.Request) (org, resource, method string) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/scim/v2/"), "/", 3)
	resource, method = "other", "other"
	if len(parts) > 1 && knownResources[parts[1]] {
		resource = parts[1]
	}
	if knownMethods[r.Method] {
		method = r.Method
	}
	if !s.NoOrganizationLabel && len(parts) > 0 && s.Tenants.Serving(parts[0]) {
		org = parts[0]
	}
	return org, resource, method
}

// statusRecorder remembers the status code a handler wrote, and whether the request was the
// organization's own (its token accepted).
type statusRecorder struct {
	http.ResponseWriter
	status        int
	authenticated bool
}

// markAuthenticated notes on w's recorder that the request's token was accepted.
func markAuthenticated(w http.ResponseWriter) {
	for {
		switch rw := w.(type) {
		case *statusRecorder:
			rw.authenticated = true
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = rw.Unwrap()
		default:
			return
		}
	}
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// measured counts and times each request.
func (s *Server) measured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			org, resource, method := s.metricLabels(r)
			if !rec.authenticated {
				// Anyone can send requests without a token to every resource and method of every
				// served organization: a thousand series each, in every replica and scrape.
				org = ""
			}
			code := rec.status
			if code == 0 {
				code = http.StatusOK
			}
			requestsTotal.WithLabelValues(org, resource, method, strconv.Itoa(code)).Inc()
			requestDuration.WithLabelValues(org, resource, method).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

// countAuthFailure counts a refused token for a served organization (others under "").
func (s *Server) countAuthFailure(org string) {
	authFailures.WithLabelValues(s.organizationLabel(org)).Inc()
}

// countRateLimited counts a request over its organization's rate limit.
func (s *Server) countRateLimited(org string) {
	rateLimited.WithLabelValues(s.organizationLabel(org)).Inc()
}

// organizationLabel is org when it is served and the label is on, else "".
func (s *Server) organizationLabel(org string) string {
	if s.NoOrganizationLabel || !s.Tenants.Serving(org) {
		return ""
	}
	return org
}
