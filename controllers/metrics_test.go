package controllers

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
)

// Members and held deprovisionings are exported for served organizations only; a state that
// empties shows 0; without the organization label every organization is summed under "".
func TestProvisioningMetricsExportServedOrganizations(t *testing.T) {
	acme, globex := types.NamespacedName{Namespace: "acme", Name: "acme"}, types.NamespacedName{Namespace: "globex", Name: "globex"}
	served := map[string]types.NamespacedName{"acme": acme, "globex": globex}
	m := &ProvisioningMetrics{Serving: func(org string, integration types.NamespacedName) bool { return served[org] == integration }}
	m.setMembers("acme", acme, map[string]int64{"Active": 3, "PendingReview": 1})
	m.setMembers("acme", acme, map[string]int64{"Active": 4})
	m.setHeld("acme", acme, 2)
	m.setMembers("globex", globex, map[string]int64{"Active": 1})
	m.setHeld("globex", globex, 0)

	want := `# HELP eio_members Members of an organization per lifecycle state, as the provisioning summary last counted them.
# TYPE eio_members gauge
eio_members{organization="acme",state="Active"} 4
eio_members{organization="acme",state="PendingReview"} 0
eio_members{organization="globex",state="Active"} 1
# HELP eio_deprovisionings_held Deprovisionings held by provisioning.deprovision.maxPerHour and waiting for an admin's release, per organization.
# TYPE eio_deprovisionings_held gauge
eio_deprovisionings_held{organization="acme"} 2
eio_deprovisionings_held{organization="globex"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	delete(served, "globex") // deleted, or moved to another integration
	m.NoOrganizationLabel = true
	m.setMembers("acme", acme, map[string]int64{"Active": 4, "Suspended": 1})
	want = `# HELP eio_members Members of an organization per lifecycle state, as the provisioning summary last counted them.
# TYPE eio_members gauge
eio_members{organization="",state="Active"} 4
eio_members{organization="",state="PendingReview"} 0
eio_members{organization="",state="Suspended"} 1
# HELP eio_deprovisionings_held Deprovisionings held by provisioning.deprovision.maxPerHour and waiting for an admin's release, per organization.
# TYPE eio_deprovisionings_held gauge
eio_deprovisionings_held{organization=""} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	var nilMetrics *ProvisioningMetrics
	nilMetrics.setMembers("acme", acme, nil) // a reconciler without metrics
}
