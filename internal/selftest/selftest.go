// Package selftest probes a live SCIM endpoint the way Microsoft Entra ID and Okta test a
// connection and provision: discovery, the test-connection queries, then create, read, find,
// deactivate and delete of a throwaway user. The setup wizard runs it so that an admin learns
// what an identity provider would meet before configuring one.
package selftest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Timeout bounds a whole run.
const Timeout = 20 * time.Second

// UserAgent names the self-test in the organization's audit log.
const UserAgent = "EnterpriseIdentityOperator-SelfTest/1.0"

// Outcomes of a step.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Step is one probe and what came of it.
type Step struct {
	Name   string
	Method string
	Path   string
	Status int
	// Outcome is "passed", "failed" or "skipped".
	Outcome string
	Detail  string
	Elapsed time.Duration
}

// AllPassed says whether every step passed.
func AllPassed(steps []Step) bool {
	for _, s := range steps {
		if s.Outcome != Passed {
			return false
		}
	}
	return len(steps) > 0
}

type probe struct {
	ctx     context.Context
	client  *http.Client
	baseURL string
	token   string
	steps   []Step
	// unreachable is set once a request could not connect.
	unreachable bool
}

// Run probes baseURL (…/scim/v2/{organization}) with the bearer token. A throwaway user named
// eio-self-test-<random>@self-test.invalid is created and deleted; it remains in the member list
// as deprovisioned, like any user an identity provider deletes.
func Run(ctx context.Context, client *http.Client, baseURL, token string) []Step {
	// Bounded as a whole, so the page answers in time whatever the endpoint does.
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	p := &probe{ctx: ctx, client: client, baseURL: strings.TrimRight(baseURL, "/"), token: token}
	random := randomHex()
	userName := "eio-self-test-" + random + "@self-test.invalid"

	p.expect("Service provider configuration (Okta reads it first)", "GET", "/ServiceProviderConfig", nil, http.StatusOK,
		func(b map[string]any) string {
			if patch, _ := b["patch"].(map[string]any); patch == nil || patch["supported"] != true {
				return "PATCH is not advertised as supported"
			}
			return ""
		})
	p.expect("Entra ID test connection: filter on a userName that does not exist", "GET",
		"/Users?filter="+url.QueryEscape(`userName eq "`+random+`"`), nil, http.StatusOK, totalResults(0))
	p.expect("Okta test connection: first page of users", "GET", "/Users?startIndex=1&count=2", nil, http.StatusOK, nil)
	p.expect("Okta test connection: first page of groups", "GET", "/Groups?startIndex=1&count=100", nil, http.StatusOK, nil)

	var id string
	created := p.expect("Create a throwaway user (Entra ID's shape, enterprise extension included)", "POST", "/Users", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"},
		"externalId": "self-test-" + random, "userName": userName, "active": true,
		"displayName": "Self Test", "name": map[string]any{"givenName": "Self", "familyName": "Test"},
		"emails": []map[string]any{{"primary": true, "type": "work", "value": userName}},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "Self-test"},
	}, http.StatusCreated, func(b map[string]any) string {
		id, _ = b["id"].(string)
		if id == "" {
			return "the response has no id"
		}
		return ""
	})
	if !created {
		p.skip("Read the user back", "Find the user by userName (Okta's existence check)",
			"Deactivate with PATCH active \"False\" (Entra ID)", "Delete the user", "The deleted user is gone (a search finds nothing)")
		return p.steps
	}
	user := "/Users/" + id
	p.expect("Read the user back", "GET", user, nil, http.StatusOK, func(b map[string]any) string {
		if b["userName"] != userName {
			return fmt.Sprintf("userName is %v", b["userName"])
		}
		return ""
	})
	p.expect("Find the user by userName (Okta's existence check)", "GET",
		"/Users?filter="+url.QueryEscape(`userName eq "`+userName+`"`)+"&startIndex=1&count=100", nil, http.StatusOK, totalResults(1))
	p.expect("Deactivate with PATCH active \"False\" (Entra ID)", "PATCH", user, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}},
	}, http.StatusOK, func(b map[string]any) string {
		if b["active"] != false {
			return "the user is still active"
		}
		return ""
	})
	p.expect("Delete the user", "DELETE", user, nil, http.StatusNoContent, nil)
	// Checked with a search rather than a GET expecting 404, so that the self-test leaves no
	// refused request behind to show up as the organization's last error.
	p.expect("The deleted user is gone (a search finds nothing)", "GET",
		"/Users?filter="+url.QueryEscape(`userName eq "`+userName+`"`), nil, http.StatusOK, totalResults(0))
	return p.steps
}

func totalResults(n float64) func(map[string]any) string {
	return func(b map[string]any) string {
		if b["totalResults"] != n {
			return fmt.Sprintf("totalResults is %v, want %v", b["totalResults"], n)
		}
		return ""
	}
}

// expect sends one request and records whether it answered want (and check found nothing wrong).
func (p *probe) expect(name, method, path string, body any, want int, check func(map[string]any) string) bool {
	step := Step{Name: name, Method: method, Path: path}
	if p.unreachable {
		step.Outcome, step.Detail = Skipped, "the endpoint could not be reached"
		p.steps = append(p.steps, step)
		return false
	}
	start := time.Now()
	status, decoded, err := p.do(method, path, body)
	step.Elapsed, step.Status = time.Since(start), status
	switch {
	case err != nil:
		// One unreachable endpoint is enough to know; the remaining steps are skipped.
		step.Outcome, step.Detail, p.unreachable = Failed, err.Error(), true
	case status != want:
		step.Outcome, step.Detail = Failed, fmt.Sprintf("answered %d, an identity provider expects %d%s", status, want, scimDetail(decoded))
	case check != nil:
		if problem := check(decoded); problem != "" {
			step.Outcome, step.Detail = Failed, problem
			break
		}
		fallthrough
	default:
		step.Outcome = Passed
	}
	p.steps = append(p.steps, step)
	return step.Outcome == Passed
}

func (p *probe) skip(names ...string) {
	for _, n := range names {
		p.steps = append(p.steps, Step{Name: n, Outcome: Skipped, Detail: "needs the user the create step did not make"})
	}
}

func (p *probe) do(method, path string, body any) (int, map[string]any, error) {
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(p.ctx, method, p.baseURL+path, reader)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("could not reach the endpoint: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	var decoded map[string]any
	_ = json.Unmarshal(raw, &decoded)
	return resp.StatusCode, decoded, nil
}

// scimDetail quotes an RFC 7644 error body's detail and scimType.
func scimDetail(b map[string]any) string {
	if b == nil {
		return ""
	}
	detail, _ := b["detail"].(string)
	if t, _ := b["scimType"].(string); t != "" {
		detail += " (scimType " + t + ")"
	}
	if detail == "" {
		return ""
	}
	return ": " + detail
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// maxAnswer bounds what the self-test reads of an answer: the endpoint is the tenant's (its
// Ingress), and a SCIM answer of one user is about a kilobyte.
const maxAnswer = 64 << 10
