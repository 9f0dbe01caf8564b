package scim

// SetTestHookPrepared installs (nil: removes) the hook run between a write's snapshot and its
// preparation (update.go), for the tests in package scim_test.
func SetTestHookPrepared(hook func(org string)) { testHookPrepared = hook }

// FastRenderingRefused is how many listed resources were left to render so far.
func FastRenderingRefused() int64 { return fastRenderingRefused.Load() }
