package operator

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAuditDropsAreAMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	var dropped uint64
	if err := registerAuditDrops(reg, func() uint64 { return dropped }); err != nil {
		t.Fatal(err)
	}
	dropped = 7
	want := "# HELP eio_audit_events_dropped_total SCIM audit events that could not be recorded (the queue was full or a batch failed).\n" +
		"# TYPE eio_audit_events_dropped_total counter\neio_audit_events_dropped_total 7\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "eio_audit_events_dropped_total"); err != nil {
		t.Fatal(err)
	}
	if err := registerAuditDrops(reg, func() uint64 { return 0 }); err != nil {
		t.Fatalf("a second manager in the process: %v", err)
	}
}
