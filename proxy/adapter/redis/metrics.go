package redis

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the adapter's OpenTelemetry instruments.
type metrics struct {
	published metric.Int64Counter
	failed    metric.Int64Counter
	dropped   metric.Int64Counter
	received  metric.Int64Counter
	requests  metric.Int64Counter
	timeouts  metric.Int64Counter
	roundTrip metric.Float64Histogram
	reg       metric.Registration
}

func newMetrics(mp metric.MeterProvider, c *Cluster) (*metrics, error) {
	m := mp.Meter("github.com/iobridge/iobridge/proxy/adapter/redis")
	var (
		out  metrics
		errs []error
	)
	counter := func(name, desc string) metric.Int64Counter {
		x, err := m.Int64Counter(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return x
	}
	out.published = counter("iobridge.redis.published", "Messages published to Redis.")
	out.failed = counter("iobridge.redis.publish.failed", "Messages that could not be published (Redis unreachable or failing): delivered on this node only.")
	out.dropped = counter("iobridge.redis.publish.dropped", "Messages not published because the publish queue was full: delivered on this node only.")
	out.received = counter("iobridge.redis.received", "Messages received from Redis.")
	out.requests = counter("iobridge.redis.requests", "Requests to other nodes (fetch sockets, all rooms).")
	out.timeouts = counter("iobridge.redis.request.timeouts", "Requests to other nodes that did not get every answer in time.")
	h, err := m.Float64Histogram("iobridge.redis.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
		metric.WithDescription("Round trip of a request to other nodes, until the last answer."))
	errs = append(errs, err)
	out.roundTrip = h
	up, err := m.Int64ObservableGauge("iobridge.redis.up", metric.WithDescription("1 while Redis answers, 0 while it is unreachable."))
	errs = append(errs, err)
	queued, err := m.Int64ObservableGauge("iobridge.redis.publish.queued", metric.WithDescription("Messages waiting to be published."))
	errs = append(errs, err)
	for _, e := range errs {
		if e != nil {
			return nil, fmt.Errorf("redis: metrics: %w", e)
		}
	}
	mode := attribute.String("mode", c.cfg.Mode)
	out.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		v := int64(0)
		if c.state.Load().err == nil {
			v = 1
		}
		o.ObserveInt64(up, v, metric.WithAttributes(mode))
		o.ObserveInt64(queued, int64(len(c.queue)), metric.WithAttributes(mode))
		return nil
	}, up, queued)
	if err != nil {
		return nil, fmt.Errorf("redis: metrics: %w", err)
	}
	return &out, nil
}

func (m *metrics) unregister() {
	if m.reg != nil {
		_ = m.reg.Unregister()
	}
}
