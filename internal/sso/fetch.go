package sso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
)

// maxDocumentBytes bounds what is read from an identity provider: discovery documents, key sets
// and metadata are a few kilobytes; a large federation metadata file still fits.
const maxDocumentBytes = 8 << 20

// fetch GETs url and returns its body, refusing non-2xx answers and oversized documents. Its
// errors never repeat the URL or anything the server sent (a redirect's Location, a reason
// phrase): the URL may come from a fetched document (a jwks_uri), and errors are logged. They
// wrap the cause, so errors.As still finds it (outbound.BlockedError).
func fetch(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fetchError{"the URL cannot be parsed", err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fetchError{connectionFailure(err), err}
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The code and its standard text: resp.Status carries the server's own reason phrase.
		return nil, fmt.Errorf("GET answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fetchError{"reading the answer failed", err}
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("the document is larger than %d bytes", maxDocumentBytes)
	}
	return body, nil
}

// fetchError is a fetch failure in fixed words, around its cause.
type fetchError struct {
	msg string
	err error
}

func (e fetchError) Error() string { return e.msg }
func (e fetchError) Unwrap() error { return e.err }

// connectionFailure says why a request got no answer, in fixed words.
func connectionFailure(err error) string {
	var dnsErr *net.DNSError
	var blocked *outbound.BlockedError
	switch {
	case errors.As(err, &blocked):
		return "the address is not allowed"
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "no answer within the timeout"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve"
	}
	return "the request failed (connection, TLS or redirect)"
}

// fetchFailed is the validation error for a document that could not be fetched. what names the
// document and where it is, from the spec only: never a URL or text the server sent. An address
// the outbound guard refused gets its own reason, so the admin knows retrying will not help.
func fetchFailed(reason string, err error, what string) *ValidationError {
	var b *outbound.BlockedError
	if errors.As(err, &b) {
		return invalid(ReasonURLNotAllowed, err,
			"Refused to read %s: its host, or a redirect from it, leads to %s, a %s address; the operator connects to "+
				"internal addresses only when its administrator allows them with --allow-outbound-cidrs", what, b.Addr, b.Range)
	}
	return invalid(reason, err, "Could not read %s", what)
}
