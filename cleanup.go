package main

import (
	"context"
	"errors"
)

// cleanups are the stops of the parts built so far. Each part registers
// its stop as soon as it is built; unwind runs them once, last registered
// first, whether the build failed halfway or the process is shutting
// down: one list instead of a shutdown call on every error path. Model:
// caddy's Context, whose cancel calls Cleanup on every CleanerUpper loaded
// through it, in reverse. Not safe for concurrent use.
type cleanups struct {
	stops []func(context.Context) error
}

// add registers stop, to run before every stop registered earlier.
func (c *cleanups) add(stop func(context.Context) error) {
	c.stops = append(c.stops, stop)
}

// unwind runs the stops in reverse order of registration, each once, and
// joins their errors. Calling it again does nothing.
func (c *cleanups) unwind(ctx context.Context) error {
	var errs []error
	for i := len(c.stops) - 1; i >= 0; i-- {
		errs = append(errs, c.stops[i](ctx))
	}
	c.stops = nil
	return errors.Join(errs...)
}
