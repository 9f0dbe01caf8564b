package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A replay is a recorded identity provider run: the requests it sends, in order, and what it
// needs back. Fixtures live in test/idp/ and are written from the IdPs' documented and observed
// behaviour (../shared/reference/idp-scim-behaviour.md).
type replay struct {
	Description string       `json:"description"`
	UserAgent   string       `json:"userAgent"`
	Steps       []replayStep `json:"steps"`
}

type replayStep struct {
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

func runReplay(t *testing.T, h *harness, file string) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "test", "idp", file))
	if err != nil {
		t.Fatal(err)
	}
	var r replay
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
		hh := *h
		if st.Token == "wrong" {
			hh.token = "not-the-token"
		}
		headers := []string{"User-Agent", r.UserAgent}
		for k, v := range st.Headers {
			headers = append(headers, k, v)
		}
		var body any
		if len(st.Body) > 0 {
			body = subst(string(st.Body))
		}
		resp := hh.do(st.Method, subst(st.Path), body, headers...)
		if resp.status != st.Status {
			t.Fatalf("%s: %s %s answered %d, want %d: %s", name, st.Method, subst(st.Path), resp.status, st.Status, resp.raw)
		}
		for path, want := range st.Expect {
			got := get(resp.body, subst(path))
			if s, ok := want.(string); ok {
				if s == "*" {
					if got == nil || got == "" {
						t.Fatalf("%s: %s is empty: %s", name, path, resp.raw)
					}
					continue
				}
				want = subst(s)
			} else {
				b, _ := json.Marshal(want)
				_ = json.Unmarshal([]byte(subst(string(b))), &want)
			}
			if !equalJSON(got, want) {
				t.Fatalf("%s: %s = %#v, want %#v: %s", name, path, got, want, resp.raw)
			}
		}
		for _, path := range st.Absent {
			if got := get(resp.body, subst(path)); got != nil {
				t.Fatalf("%s: %s must be absent, got %#v", name, path, got)
			}
		}
		for v, path := range st.Save {
			got, _ := get(resp.body, path).(string)
			if got == "" {
				t.Fatalf("%s: nothing at %s to save as %s: %s", name, path, v, resp.raw)
			}
			vars[v] = got
		}
	}
}

// equalJSON compares decoded JSON values, numbers by value.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var na, nb any
	_ = json.Unmarshal(ja, &na)
	_ = json.Unmarshal(jb, &nb)
	return reflect.DeepEqual(na, nb)
}

func TestEntraIDProvisioningRun(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		runReplay(t, h, "entra-id.json")
		// The run leaves the manager active and the hard-deleted user deactivated (the default
		// onDelete), its record kept.
		counts, err := h.st.MemberCounts(context.Background(), h.org)
		if err != nil {
			t.Fatal(err)
		}
		if counts["Active"] != 1 || counts["Deactivated"] != 1 || len(counts) != 2 {
			t.Fatalf("members after the Entra run: %v", counts)
		}
	})
}

func TestEntraIDFeatureFlagRun(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) { runReplay(t, h, "entra-id-aadoptscim062020.json") })
}

func TestOktaProvisioningRun(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) { runReplay(t, h, "okta.json") })
}

func TestOktaSpecTest(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) { runReplay(t, h, "okta-spec-test.json") })
}
