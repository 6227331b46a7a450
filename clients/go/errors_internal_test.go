package apikeys

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A context whose deadline has passed by the clock while its own timer has not fired yet:
// Err is still nil (the race that crashed TestDeadlineBoundsAWriteToAStoppedServer once).
type deadlinePassedNotFired struct{ context.Context }

func (deadlinePassedNotFired) Deadline() (time.Time, bool) {
	return time.Now().Add(-time.Millisecond), true
}
func (deadlinePassedNotFired) Err() error { return nil }

func TestContextErrorBeforeTheContextsTimerFires(t *testing.T) {
	e := contextError(deadlinePassedNotFired{context.Background()}, "deadline passed before the call was sent")
	if e.Code != DeadlineExceeded || !errors.Is(e.cause, context.DeadlineExceeded) {
		t.Fatalf("got %v (cause %v), want DEADLINE_EXCEEDED", e.Code, e.cause)
	}
}
