package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// publish queues a message; it never blocks. At the bound the message is
// dropped, counted and logged.
func (c *Cluster) publish(channel string, payload []byte, sharded bool) {
	c.enqueue(outgoing{channel: channel, payload: payload, sharded: sharded})
}

func (c *Cluster) enqueue(m outgoing) bool {
	if c.closed.Load() {
		return false
	}
	c.pending.Add(1)
	select {
	case c.queue <- m:
		return true
	default:
		c.pending.Add(-1)
		c.met.dropped.Add(c.ctx, 1)
		if c.dropped.Add(1) == 1 {
			channel := m.channel
			c.log.Warn("redis: publish queue full, messages are delivered on this node only", "bound", c.cfg.PublishQueue, "channel", channel)
		}
		return false
	}
}

// publishLoop publishes the queue in order, pipelining what has piled up.
func (c *Cluster) publishLoop() {
	defer c.wg.Done()
	const maxBatch = 256
	batch := make([]outgoing, 0, maxBatch)
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.queue:
			batch = append(batch[:0], m)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case m := <-c.queue:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		c.send(batch)
		c.pending.Add(-int64(len(batch)))
		clear(batch)
	}
}

func (c *Cluster) send(batch []outgoing) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	var err error
	if len(batch) == 1 {
		m := batch[0]
		switch {
		case m.fields != nil:
			id, xerr := c.rdb.XAdd(ctx, c.xaddArgs(m.channel, m.fields)).Result()
			err = xerr
			if m.reply != nil {
				m.reply <- xaddResult{id, xerr}
			}
		case m.sharded:
			err = c.rdb.SPublish(ctx, m.channel, m.payload).Err()
		default:
			err = c.rdb.Publish(ctx, m.channel, m.payload).Err()
		}
	} else {
		xadds := make([]*goredis.StringCmd, len(batch))
		_, err = c.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, m := range batch {
				switch {
				case m.fields != nil:
					xadds[i] = p.XAdd(ctx, c.xaddArgs(m.channel, m.fields))
				case m.sharded:
					p.SPublish(ctx, m.channel, m.payload)
				default:
					p.Publish(ctx, m.channel, m.payload)
				}
			}
			return nil
		})
		for i, m := range batch {
			if m.reply != nil {
				id, xerr := xadds[i].Result()
				m.reply <- xaddResult{id, xerr}
			}
		}
	}
	if err != nil {
		c.met.failed.Add(c.ctx, int64(len(batch)))
		c.failures.Add(int64(len(batch)))
		c.setState(err)
		return
	}
	c.met.published.Add(c.ctx, int64(len(batch)))
}
