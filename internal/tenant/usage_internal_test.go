package tenant

import (
	"fmt"
	"testing"
	"time"
)

// Every rotation brings a new token fingerprint: the recorder forgets those it last wrote more
// than an interval ago once it holds many, so rotating tokens does not grow it for good.
func TestTheUsageRecorderForgetsOldTokens(t *testing.T) {
	u := &UsageRecorder{written: map[string]time.Time{}}
	start := time.Now()
	for i := range 10 * maxRememberedTokens {
		now := start.Add(time.Duration(i) * time.Second) // a rotated token used once a second
		u.forgetOlderThan(now.Add(-lastUsedInterval))
		u.written[fmt.Sprint("token-", i)] = now
	}
	if n := len(u.written); n > maxRememberedTokens+2*int(lastUsedInterval/time.Second) {
		t.Fatalf("%d tokens remembered after %d were used once each", n, 10*maxRememberedTokens)
	}
}
