package provisioning

import "testing"

func TestLifecycleTable(t *testing.T) {
	type step struct {
		ev             Trigger
		state          State
		employeeActive bool
	}
	policy := func(auto bool, onDeactivate, onDelete Action) Policy {
		return Policy{AutoActivate: auto, OnDeactivate: onDeactivate, OnDelete: onDelete, DefaultRole: "member"}
	}
	cases := []struct {
		name   string
		policy Policy
		steps  []step
	}{
		{"auto-activate, active=false suspends, reactivation restores", policy(true, Suspend, Deactivate),
			[]step{{UserCreated, Active, true}, {UserDeactivated, Suspended, true}, {UserReactivated, Active, true}}},
		{"auto-activate, active=false deactivates the employee record", policy(true, Deactivate, Deactivate),
			[]step{{UserCreated, Active, true}, {UserDeactivated, Deactivated, false}, {UserReactivated, Active, true}}},
		{"DELETE suspends: access off, record kept active", policy(true, Suspend, Suspend),
			[]step{{UserCreated, Active, true}, {UserDeleted, Suspended, true}}},
		{"DELETE deactivates the record", policy(true, Suspend, Deactivate),
			[]step{{UserCreated, Active, true}, {UserDeleted, Deactivated, false}}},
		{"review: created pending, stays pending through updates", policy(false, Suspend, Deactivate),
			[]step{{UserCreated, PendingReview, true}, {UserUpdated, PendingReview, true}}},
		{"review: a pending member deactivated and reactivated returns to review", policy(false, Deactivate, Deactivate),
			[]step{{UserCreated, PendingReview, true}, {UserDeactivated, Deactivated, false}, {UserReactivated, PendingReview, true}}},
		{"review: suspending a pending member keeps the review open", policy(false, Suspend, Deactivate),
			[]step{{UserCreated, PendingReview, true}, {UserDeactivated, PendingReview, true}}},
		{"created inactive applies the deactivation policy", policy(true, Deactivate, Deactivate),
			[]step{{UserDeactivated, Deactivated, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m *Member
			for i, s := range c.steps {
				next, _ := Decide(c.policy, m, s.ev)
				if next.State != s.state || next.EmployeeActive != s.employeeActive {
					t.Fatalf("step %d (%s): state %s employee active %v, want %s %v", i+1, s.ev, next.State, next.EmployeeActive, s.state, s.employeeActive)
				}
				if next.Role != "member" {
					t.Fatalf("step %d: role %q lost", i+1, next.Role)
				}
				m = &next
			}
		})
	}
}

func TestTransitionsAreReportedOnlyOnChange(t *testing.T) {
	m, tr := Decide(DefaultPolicy, nil, UserCreated)
	if tr == nil || tr.To != Active {
		t.Fatalf("creation is a transition: %+v", tr)
	}
	if _, tr := Decide(DefaultPolicy, &m, UserUpdated); tr != nil {
		t.Fatalf("a profile update is no transition: %+v", tr)
	}
	s, tr := Decide(DefaultPolicy, &m, UserDeactivated)
	if tr == nil || tr.From != Active || tr.To != Suspended || tr.Reason != "Deactivated: Suspend" {
		t.Fatalf("deactivation: %+v", tr)
	}
	if _, tr := Decide(DefaultPolicy, &s, UserDeactivated); tr != nil {
		t.Fatalf("deactivating a suspended member again is no transition: %+v", tr)
	}
}

func TestReview(t *testing.T) {
	p := Policy{AutoActivate: false}
	m, _ := Decide(p, nil, UserCreated)
	approved, tr := Approve(m)
	if approved.State != Active || tr == nil || !approved.Approved {
		t.Fatalf("approve: %+v %+v", approved, tr)
	}
	rejected, tr := Reject(m)
	if rejected.State != Deactivated || rejected.EmployeeActive || tr == nil {
		t.Fatalf("reject: %+v %+v", rejected, tr)
	}
	if _, tr := Approve(approved); tr != nil {
		t.Fatal("approving an active member changes nothing")
	}
	// Once approved, a deactivated member comes back active.
	d, _ := Decide(Policy{OnDeactivate: Deactivate}, &approved, UserDeactivated)
	back, _ := Decide(p, &d, UserReactivated)
	if back.State != Active {
		t.Fatalf("an approved member reactivates to Active, got %s", back.State)
	}
}
