package scim

// SetTestHookPrepared installs (nil: removes) the hook run between a write's snapshot and its
// preparation (update.go), for the tests in package scim_test.
func SetTestHookPrepared(hook func(org string)) { testHookPrepared = hook }
