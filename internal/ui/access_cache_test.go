package ui

import (
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// One identity computes one view's answers at a time; other identities are not held up.
func TestOneViewOfTheOrganizationsPageAtATimePerIdentity(t *testing.T) {
	var c accessCache
	alice := accessKey(service.Identity{User: "alice", Groups: []string{"b", "a"}}, nil)
	if !c.begin(alice) {
		t.Fatal("the first view was refused")
	}
	if c.begin(alice) {
		t.Fatal("a second view of the same identity computed at the same time")
	}
	if c.begin(accessKey(service.Identity{User: "alice", Groups: []string{"a", "b"}}, nil)) {
		t.Fatal("the same groups in another order made another identity")
	}
	bob := accessKey(service.Identity{User: "bob"}, nil)
	if !c.begin(bob) {
		t.Fatal("another identity was held up")
	}
	c.end(alice)
	if !c.begin(alice) {
		t.Fatal("a view after the first ended was refused")
	}
	// Answers are kept per identity and per set of namespaces.
	c.put(accessKey(service.Identity{User: "alice"}, []string{"acme"}), &accessAnswers{})
	if _, ok := c.get(accessKey(service.Identity{User: "alice"}, []string{"acme", "globex"})); ok {
		t.Fatal("answers for other namespaces were taken")
	}
	if _, ok := c.get(accessKey(service.Identity{User: "alice", Extra: map[string][]string{"k": {"v"}}}, []string{"acme"})); ok {
		t.Fatal("answers for another identity (other extras) were taken")
	}
	if _, ok := c.get(accessKey(service.Identity{User: "alice"}, []string{"acme"})); !ok {
		t.Fatal("the answers were not kept")
	}
}
