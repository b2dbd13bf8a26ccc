package fetch

import "time"

// A policy is one of a host's rules beyond its rate and in-flight gates:
// the adaptive rate, the retry budget, the circuit breaker. A host holds a
// chain of them, one for each option that asks for one, and every request
// to the host runs through them all:
//
//   - precheck, before the attempt waits at any gate, may refuse it at
//     once (a circuit breaker that is open); refusing says, with no call
//     at hand, whether it would, so that a scheduler lets such a call
//     go to be refused without first taking the host's gates;
//   - admit, once the attempt has passed the host's and the global gates
//     and just before it is sent, may refuse it: the call then fails with
//     that error and nothing is sent;
//   - observe takes in the outcome of every attempt the host answered;
//   - allowRetry, when an outcome of a call to the host is to be retried,
//     may refuse the retry: the call then fails with that error;
//   - refusesRetry, once every policy has taken in that outcome, says
//     whether the retry would be refused when it is due: the call then
//     fails at once with that error, rather than wait to be refused (a
//     circuit breaker that the outcome opened);
//   - forgettable says whether the host may be dropped from the table, as
//     far as the policy is concerned: a fresh policy would do the same or be
//     more cautious;
//   - stats adds the policy's state to the host's.
//
// A policy is shared by every request to its host, so its methods must be
// safe for concurrent use. A new policy is one file: its type, which embeds
// basePolicy for the methods it has no use for, and the option that adds
// it to newHostTable's chain.
type policy interface {
	precheck(c *call) error
	refusing() bool
	admit(c *call) error
	observe(c *call, o *outcome)
	allowRetry(c *call, o *outcome) error
	refusesRetry(c *call, at time.Time) error
	forgettable() bool
	stats(s *HostStats)
}

// basePolicy is a policy that does nothing; real ones embed it.
type basePolicy struct{}

func (basePolicy) precheck(*call) error                { return nil }
func (basePolicy) refusing() bool                      { return false }
func (basePolicy) admit(*call) error                   { return nil }
func (basePolicy) observe(*call, *outcome)             {}
func (basePolicy) allowRetry(*call, *outcome) error    { return nil }
func (basePolicy) refusesRetry(*call, time.Time) error { return nil }
func (basePolicy) forgettable() bool                   { return true }
func (basePolicy) stats(*HostStats)                    {}
