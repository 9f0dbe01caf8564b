package ui

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// sessionExpiry is when a session begun now with token ends: after sessionLifetime, or when the
// token itself expires if that is sooner. The session never asks the API server again, so a
// session outliving its token would keep a 10-minute `kubectl create token` (or a bound service
// account token whose pod is gone) working for hours. The token was authenticated by a
// TokenReview before this is read, so its own expiry claim is believed; a token that states none
// (a legacy service account token Secret, a static token) gets sessionLifetime.
func sessionExpiry(token string, now time.Time) time.Time {
	end := now.Add(sessionLifetime)
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > 16<<10 {
		return end
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return end
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return end
	}
	seconds, err := claims.Exp.Int64()
	if err != nil || seconds <= 0 {
		return end
	}
	if exp := time.Unix(seconds, 0); exp.Before(end) {
		return exp
	}
	return end
}
