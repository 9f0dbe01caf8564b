package tenant

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// A starting data plane waits until every integration in the cache has been decided on, served
// or not, and gives up after its timeout rather than never serving.
func TestWaitSettled(t *testing.T) {
	served := types.NamespacedName{Namespace: "acme", Name: "acme"}
	refused := types.NamespacedName{Namespace: "globex", Name: "globex"}
	slow := types.NamespacedName{Namespace: "initech", Name: "initech"}

	r := NewRegistry()
	go func() {
		time.Sleep(50 * time.Millisecond)
		r.Set(&Organization{Name: "acme", Integration: served})
		r.Remove(refused)
	}()
	if pending := r.WaitSettled(context.Background(), []types.NamespacedName{served, refused}, time.Minute); pending != 0 {
		t.Fatalf("%d integrations pending after both were decided on", pending)
	}

	r = NewRegistry()
	r.Set(&Organization{Name: "acme", Integration: served})
	if pending := r.WaitSettled(context.Background(), []types.NamespacedName{served, slow}, 100*time.Millisecond); pending != 1 {
		t.Fatalf("pending = %d, want 1: the integration never decided on", pending)
	}
	if r.settled != nil {
		t.Error("the registry still records decisions after the wait")
	}
}
