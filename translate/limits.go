package translate

import "sync/atomic"

// bound counts what is under way against a maximum: the connect and event
// deliveries in flight (Config.MaxInFlight) and the disconnect deliveries
// under way (Config.MaxPendingDisconnects). take and done are one atomic
// add each, with no lock: every delivery passes here. Its methods are
// safe for concurrent use.
type bound struct {
	n   atomic.Int64
	max int64
}

// newBound returns a bound of n, or of def when n is not positive.
func newBound(n, def int) *bound {
	if n <= 0 {
		n = def
	}
	return &bound{max: int64(n)}
}

// take counts one more, or reports false at the bound (nothing counted).
func (b *bound) take() bool {
	if b.n.Add(1) > b.max {
		b.n.Add(-1)
		return false
	}
	return true
}

// done gives back what take counted.
func (b *bound) done() { b.n.Add(-1) }

// load returns how many are counted now.
func (b *bound) load() int64 { return b.n.Load() }
