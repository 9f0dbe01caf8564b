package sso

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
		return nil, fmt.Errorf("GET %s answered %s", url, resp.Status)
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
