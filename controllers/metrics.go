package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

var (
	membersDesc = prometheus.NewDesc("eio_members", "Members of an organization per lifecycle state, as the provisioning summary last counted them.",
		[]string{"organization", "state"}, nil)
	heldDesc = prometheus.NewDesc("eio_deprovisionings_held",
		"Deprovisionings held by provisioning.deprovision.maxPerHour and waiting for an admin's release, per organization.",
		[]string{"organization"}, nil)
)

// ProvisioningMetrics exports what the provisioning summary (scimintegration_summary.go) counted,
// so members per state and held deprovisionings cost no store query per scrape. Only
// organizations still served for the integration that counted them are exported: a deleted or
// moved organization's series go away at the next scrape, and made-up names never get one.
// The controllers run on the leader, so the leader exports these.
type ProvisioningMetrics struct {
	// Serving reports whether an organization is still served for an integration.
	Serving func(organization string, integration types.NamespacedName) bool
	// NoOrganizationLabel sums every organization into organization="" (very many organizations).
	NoOrganizationLabel bool

	mu   sync.Mutex
	orgs map[string]*organizationCounts
}

type organizationCounts struct {
	integration types.NamespacedName
	members     map[string]int64
	held        int64
}

var _ prometheus.Collector = (*ProvisioningMetrics)(nil)

// setMembers records an organization's members per state. A state seen before and now empty
// stays at 0 rather than vanishing, so a drop to zero shows.
func (m *ProvisioningMetrics) setMembers(org string, integration types.NamespacedName, counts map[string]int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.entry(org, integration)
	next := make(map[string]int64, len(counts)+len(c.members))
	for state := range c.members {
		next[state] = 0
	}
	for state, n := range counts {
		next[state] = n
	}
	c.members = next
}

// setHeld records an organization's held deprovisionings.
func (m *ProvisioningMetrics) setHeld(org string, integration types.NamespacedName, held int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entry(org, integration).held = held
}

func (m *ProvisioningMetrics) entry(org string, integration types.NamespacedName) *organizationCounts {
	if m.orgs == nil {
		m.orgs = map[string]*organizationCounts{}
	}
	c := m.orgs[org]
	if c == nil || c.integration != integration {
		c = &organizationCounts{integration: integration}
		m.orgs[org] = c
	}
	return c
}

// Describe implements prometheus.Collector.
func (m *ProvisioningMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- membersDesc
	ch <- heldDesc
}

// Collect implements prometheus.Collector, forgetting organizations no longer served.
func (m *ProvisioningMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sums, held, seen := map[string]int64{}, int64(0), false
	for org, c := range m.orgs {
		if m.Serving != nil && !m.Serving(org, c.integration) {
			delete(m.orgs, org)
			continue
		}
		if m.NoOrganizationLabel {
			for state, n := range c.members {
				sums[state] += n
			}
			held, seen = held+c.held, true
			continue
		}
		for state, n := range c.members {
			ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(n), org, state)
		}
		ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(c.held), org)
	}
	for state, n := range sums {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(n), "", state)
	}
	if seen {
		ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(held), "")
	}
}
