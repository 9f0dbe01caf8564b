// Package idp holds recorded identity provider runs (the JSON fixtures beside this file) and
// replays them against a SCIM endpoint, in-process or over real HTTP.
package idp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// A replay is a recorded identity provider run: the requests it sends, in order, and what it
// needs back. Fixtures live in test/idp/ and are written from the IdPs' documented and observed
// behaviour (../shared/reference/idp-scim-behaviour.md).
type Replay struct {
	Description string `json:"description"`
	UserAgent   string `json:"userAgent"`
	Steps       []Step `json:"steps"`
}

type Step struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Body    json.RawMessage   `json:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Token "wrong" sends a token that is not the organization's.
	Token  string         `json:"token,omitempty"`
	Status int            `json:"status"`
	Expect map[string]any `json:"expect,omitempty"`
	// Absent lists paths that must not be in the response.
	Absent []string `json:"absent,omitempty"`
	// Save stores response values as {{variables}} for later steps.
	Save map[string]string `json:"save,omitempty"`
}

// Response is what the server answered to one step.
type Response struct {
	Status int
	Body   map[string]any
	Raw    string
}

// Sender sends one step's request to the organization's SCIM base URL (path starts with "/"),
// with the organization's token, or another one when wrongToken is set.
type Sender func(method, path string, body any, headers map[string]string, wrongToken bool) Response

// Run replays a fixture of this directory through send, failing t at the first answer the
// identity provider would not accept.
func Run(t testing.TB, file string, send Sender) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(here), filepath.Base(file))) //nolint:gosec // a fixture of this directory
	if err != nil {
		t.Fatal(err)
	}
	var r Replay
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	vars := map[string]string{}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{{"+k+"}}", v)
		}
		return s
	}
	for i, st := range r.Steps {
		name := fmt.Sprintf("step %d: %s", i+1, st.Name)
		headers := map[string]string{"User-Agent": r.UserAgent}
		for k, v := range st.Headers {
			headers[k] = v
		}
		var body any
		if len(st.Body) > 0 {
			body = subst(string(st.Body))
		}
		resp := send(st.Method, subst(st.Path), body, headers, st.Token == "wrong")
		if resp.Status != st.Status {
			t.Fatalf("%s: %s %s answered %d, want %d: %s", name, st.Method, subst(st.Path), resp.Status, st.Status, resp.Raw)
		}
		for path, want := range st.Expect {
			got := Get(resp.Body, subst(path))
			if s, ok := want.(string); ok {
				if s == "*" {
					if got == nil || got == "" {
						t.Fatalf("%s: %s is empty: %s", name, path, resp.Raw)
					}
					continue
				}
				want = subst(s)
			} else {
				b, _ := json.Marshal(want)
				_ = json.Unmarshal([]byte(subst(string(b))), &want)
			}
			if !EqualJSON(got, want) {
				t.Fatalf("%s: %s = %#v, want %#v: %s", name, path, got, want, resp.Raw)
			}
		}
		for _, path := range st.Absent {
			if got := Get(resp.Body, subst(path)); got != nil {
				t.Fatalf("%s: %s must be absent, got %#v", name, path, got)
			}
		}
		for v, path := range st.Save {
			got, _ := Get(resp.Body, path).(string)
			if got == "" {
				t.Fatalf("%s: nothing at %s to save as %s: %s", name, path, v, resp.Raw)
			}
			vars[v] = got
		}
	}
}

// EqualJSON compares decoded JSON values, numbers by value.
func EqualJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var na, nb any
	_ = json.Unmarshal(ja, &na)
	_ = json.Unmarshal(jb, &nb)
	return reflect.DeepEqual(na, nb)
}

// Get reads a dotted path (array indexes and schema URNs allowed) from a decoded JSON body.
func Get(body any, path string) any {
	cur := body
	for _, part := range splitPath(path) {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func splitPath(path string) []string {
	if strings.HasPrefix(path, "urn:") {
		colon := strings.LastIndex(path, ":")
		dot := strings.Index(path[colon:], ".")
		if dot < 0 {
			return []string{path}
		}
		return append([]string{path[:colon+dot]}, strings.Split(path[colon+dot+1:], ".")...)
	}
	if i := strings.Index(path, ".urn:"); i >= 0 {
		return append(strings.Split(path[:i], "."), splitPath(path[i+1:])...)
	}
	return strings.Split(path, ".")
}
