package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// EventsAPI reads an organization's events in sequence order:
// GET {BaseURL}/organizations/{org}/events?after={sequence}&limit={n}.
type EventsAPI struct {
	// BaseURL is the admin API, for example https://eio.example.com/api/v1alpha1.
	BaseURL string
	// Token returns a Kubernetes bearer token allowed to get the organization's ScimIntegration.
	// Read it afresh on each call: projected service account tokens are rotated on disk.
	Token func() (string, error)
	// Client sends the requests; it must have a timeout.
	Client *http.Client
}

// Page returns up to limit events after the sequence after, and the sequence to pass as after next.
func (a *EventsAPI) Page(ctx context.Context, org string, after int64, limit int) ([]Event, int64, error) {
	u := fmt.Sprintf("%s/organizations/%s/events?after=%d&limit=%d", strings.TrimRight(a.BaseURL, "/"), url.PathEscape(org), after, limit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	token, err := a.Token()
	if err != nil {
		return nil, 0, fmt.Errorf("reading the Events API token: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.Client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET events of %s: %s", org, resp.Status)
	}
	var page struct {
		Items []Event `json:"items"`
		Next  string  `json:"next"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page); err != nil {
		return nil, 0, fmt.Errorf("reading events of %s: %w", org, err)
	}
	next := after
	if page.Next != "" {
		if next, err = strconv.ParseInt(page.Next, 10, 64); err != nil {
			return nil, 0, fmt.Errorf("events of %s: next %q: %w", org, page.Next, err)
		}
	}
	return page.Items, next, nil
}
