package counter

import (
	"testing"

	"github.com/rrguard/rrguard/test/testenv"
)

// Every other status write suffers the fault: it lands and its answer is
// lost, or is a 504, or comes back a Conflict because it was sent twice,
// or lands after its 504, or never reaches the server. The sender resends
// whatever was not answered as counted; the stored count is still exactly
// the number of signals answered as counted.
func TestAStatusWriteWhoseAnswerIsLostIsCountedExactlyOnce(t *testing.T) {
	for _, fault := range []testenv.WriteFault{testenv.AnswerLost, testenv.AnswerTimeout, testenv.SentTwice, testenv.ResentByClient, testenv.LandsAfterTimeout, testenv.NotSent} {
		t.Run(fault.String(), func(t *testing.T) {
			ns := env.Namespace(t)
			f := &testenv.FaultyWrites{Fault: func(n int64) testenv.WriteFault {
				if n%2 == 0 {
					return fault
				}
				return testenv.Untouched
			}}
			k, m := newCounter(t, env, Options{}, CountSends, f.Wrap)
			if fault == testenv.ResentByClient {
				// As the gateway wires it: the counter around the
				// connections, client-go's resend above both.
				k, m = newCounter(t, env, Options{}, f.Wrap, CountSends)
			}
			key := stored(t, env, ns, "web")
			s := &sender{t: t}
			const signals = 12
			for range signals {
				s.send(k, key)
			}
			if got := storedCount(t, env, key); got != s.answered.Load() || got != signals {
				t.Errorf("stored count %d, answered as counted %d, sent %d: want all equal", got, s.answered.Load(), signals)
			}
			// Even a write that never reached the server is settled as
			// landed: the settling read finds the request unchanged and
			// sends the write again, which lands.
			if settledValue(m, "landed") == 0 || settledValue(m, "unknown") != 0 {
				t.Errorf("settled: landed %v, not landed %v, unknown %v; want some landed and none unknown",
					settledValue(m, "landed"), settledValue(m, "not_landed"), settledValue(m, "unknown"))
			}
		})
	}
}

// The Conflict that answers a resend of a write whose first send landed is
// not a refusal. A counter that counts the sends above the transport that
// resends takes it for one (a write sent once), reads the request, finds
// its own count there and counts again: the stored count runs ahead of the
// signals answered as counted. CountSends where client-go's resends pass
// through it is what the sent-twice case above relies on.
func TestAConflictToAResendTakenForARefusalCountsTwice(t *testing.T) {
	ns := env.Namespace(t)
	f := &testenv.FaultyWrites{Fault: func(n int64) testenv.WriteFault {
		if n%2 == 0 {
			return testenv.SentTwice
		}
		return testenv.Untouched
	}}
	k, _ := newCounter(t, env, Options{}, f.Wrap, CountSends)
	key := stored(t, env, ns, "web")
	s := &sender{t: t}
	const signals = 6
	for range signals {
		s.send(k, key)
	}
	if got := storedCount(t, env, key); got <= s.answered.Load() {
		t.Errorf("stored count %d, answered as counted %d: the resend's Conflict was settled although the counter saw one send", got, s.answered.Load())
	}
}

// Another replica counts on the request between a write whose answer was
// lost and the read that settles it: the count read no longer tells whose
// write came first, and the watch from the write's resourceVersion does.
func TestAnotherReplicasCountBeforeTheSettlingReadIsToldApartByTheWatch(t *testing.T) {
	for _, fault := range []testenv.WriteFault{testenv.AnswerLost, testenv.NotSent} {
		t.Run(fault.String(), func(t *testing.T) {
			ns := env.Namespace(t)
			other, _ := newCounter(t, env, Options{}, CountSends)
			key := stored(t, env, ns, "web")
			s := &sender{t: t}
			f := &testenv.FaultyWrites{
				Fault: func(n int64) testenv.WriteFault {
					if n == 2 {
						return fault
					}
					return testenv.Untouched
				},
				After: func(int64, testenv.WriteFault) { s.send(other, key) },
			}
			k, m := newCounter(t, env, Options{}, CountSends, f.Wrap)
			for range 3 {
				s.send(k, key)
			}
			if got := storedCount(t, env, key); got != s.answered.Load() || got != 4 {
				t.Errorf("stored count %d, answered as counted %d; want 4 (3 here, 1 by the other replica)", got, s.answered.Load())
			}
			if f.Watches.Load() == 0 {
				t.Error("no watch settled the write; the test no longer reaches the case it is about")
			}
			want := "landed"
			if fault == testenv.NotSent {
				want = "not_landed"
			}
			if settledValue(m, want) != 1 || settledValue(m, "unknown") != 0 {
				t.Errorf("settled: landed %v, not landed %v, unknown %v; want the one write %s",
					settledValue(m, "landed"), settledValue(m, "not_landed"), settledValue(m, "unknown"), want)
			}
		})
	}
}
