package sso

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
)

// maxDocumentBytes bounds what is read from an identity provider: discovery documents, key sets
// and metadata are a few kilobytes; a large federation metadata file still fits.
const maxDocumentBytes = 8 << 20

// fetch GETs url and returns its body, refusing non-2xx answers and oversized documents.
func fetch(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The code and its standard text: resp.Status carries the server's own reason phrase.
		return nil, fmt.Errorf("GET %s answered %d %s", url, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", url, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", url, maxDocumentBytes)
	}
	return body, nil
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
