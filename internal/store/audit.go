package store

// Refusal is an aggregate of refused requests (wrong token, throttled): refusals cost the
// refused client nothing, so recording each as its own row would let anyone fill the disk.
// Event describes the first request of the aggregate and Event.Count how many more requests to
// add; Key names the row (for example status, source and minute) within the organization.
type Refusal struct {
	Key   string
	Event AuditEvent
}
