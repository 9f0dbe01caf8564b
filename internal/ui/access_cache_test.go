package ui

import (
	"strconv"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// One identity computes one view's answers at a time; other identities are not held up, up to
// maxViewsPreparing in all.
func TestOneViewOfTheOrganizationsPageAtATimePerIdentity(t *testing.T) {
	var c accessCache
	alice := accessKey(service.Identity{User: "alice", Groups: []string{"b", "a"}}, nil)
	if started, _ := c.begin(alice); !started {
		t.Fatal("the first view was refused")
	}
	if started, own := c.begin(alice); started || !own {
		t.Fatal("a second view of the same identity computed at the same time")
	}
	if started, _ := c.begin(accessKey(service.Identity{User: "alice", Groups: []string{"a", "b"}}, nil)); started {
		t.Fatal("the same groups in another order made another identity")
	}
	bob := accessKey(service.Identity{User: "bob"}, nil)
	if started, _ := c.begin(bob); !started {
		t.Fatal("another identity was held up")
	}
	for i := 2; i < maxViewsPreparing; i++ {
		if started, _ := c.begin(accessKey(service.Identity{User: "user-" + strconv.Itoa(i)}, nil)); !started {
			t.Fatalf("view %d of %d refused", i+1, maxViewsPreparing)
		}
	}
	if started, own := c.begin(accessKey(service.Identity{User: "one-too-many"}, nil)); started || own {
		t.Fatalf("view %d was prepared at once with the others", maxViewsPreparing+1)
	}
	c.end(alice)
	if started, _ := c.begin(alice); !started {
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

// Extras naming one token (its credential ID, the pod and node it is bound to) do not make its
// holder another identity for the page's answers; other extras do.
func TestAccessKeyLeavesOutPerCredentialExtras(t *testing.T) {
	sa := func(extra map[string][]string) string {
		return accessKey(service.Identity{User: "system:serviceaccount:acme:bot", UID: "u-1", Extra: extra}, []string{"acme"})
	}
	first := sa(map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}})
	for name, extra := range map[string]map[string][]string{
		"another credential ID": {"authentication.kubernetes.io/credential-id": {"JTI=2"}},
		"another pod and node": {"authentication.kubernetes.io/credential-id": {"JTI=3"},
			"authentication.kubernetes.io/pod-name": {"bot-7d9"}, "authentication.kubernetes.io/pod-uid": {"p-1"},
			"authentication.kubernetes.io/node-name": {"node-a"}, "authentication.kubernetes.io/node-uid": {"n-1"}},
	} {
		if sa(extra) != first {
			t.Errorf("%s made another identity", name)
		}
	}
	if sa(map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}, "example.com/scope": {"read"}}) == first {
		t.Error("another extra was left out")
	}
}
