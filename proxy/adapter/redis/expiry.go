package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// Recovery expiry in the streams mode. A session lives in Redis under
// sio:session:<pid>, where any node, iobridge or Node, may restore it
// (GET and DEL in one step). The node that persisted it claims it at the
// end of the window: it deletes the key only if it still holds the very
// value it wrote, and reports the session lapsed when it did. Either the
// restore or the claim removes the key, never both, so a session that
// recovers anywhere gets no report and one that lapses gets exactly one,
// from its owner.
//
//   - The value carries a "claim" token unique to each persist, so a
//     session restored on another node and persisted again under the same
//     pid is that node's to claim, not the first owner's. Node ignores the
//     extra field.
//   - The key lives claimGrace longer than the window, so that Redis'
//     own expiry does not remove it before a slightly late claim (a claim
//     that finds nothing would take it for a restore).
//   - A node shutting down claims nothing: its sessions stay restorable
//     elsewhere until their key expires, and no report is made for them.
//     A node that dies does the same, by necessity. Sessions persisted by
//     Node servers are never reported: they are not claimed.

// claimGrace is how much longer than the window a session key lives.
const claimGrace = 10 * time.Second

// claimRetry is the wait between claims Redis did not answer.
const claimRetry = 500 * time.Millisecond

// claimScript deletes KEYS[1] if it holds ARGV[1]; 1 when it did.
var claimScript = goredis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// claim is a session this node persisted and claims at its window's end.
type claim struct {
	nsp      *socketio.Namespace
	sess     *socketio.Session
	key      string
	value    string    // exactly what was SET
	deadline time.Time // when the key expires: past it, nothing can be told
	timer    *time.Timer
}

// claims are the sessions this node will claim, by key.
type claims struct {
	mu sync.Mutex
	m  map[string]*claim
}

// add schedules cl's claim after window, replacing an older claim of the
// same key (the same socket persisted again by this node).
func (cs *claims) add(c *Cluster, cl *claim, window time.Duration) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = make(map[string]*claim)
	}
	if old := cs.m[cl.key]; old != nil {
		old.timer.Stop()
	}
	cs.m[cl.key] = cl
	cl.timer = time.AfterFunc(window, func() { c.runClaim(cl) })
}

// take removes cl; false when it was no longer there (restored on this
// node, replaced, or the cluster closed).
func (cs *claims) take(cl *claim) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m[cl.key] != cl {
		return false
	}
	delete(cs.m, cl.key)
	return true
}

// restored forgets the claim of key when this node restored the value it
// holds: the claim would find nothing anyway.
func (cs *claims) restored(key, value string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cl := cs.m[key]; cl != nil && cl.value == value {
		cl.timer.Stop()
		delete(cs.m, key)
	}
}

// stop cancels every claim (Cluster.Close): the sessions stay restorable
// elsewhere.
func (cs *claims) stop() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, cl := range cs.m {
		cl.timer.Stop()
	}
	cs.m = nil
}

// runClaim is cl's timer: it claims the session and reports it lapsed,
// retrying while Redis does not answer until the key would have expired.
func (c *Cluster) runClaim(cl *claim) {
	if !c.claims.take(cl) {
		return
	}
	for {
		if c.closed.Load() || cl.nsp.Server().ShuttingDown() {
			return
		}
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		n, err := claimScript.Run(ctx, c.rdb, []string{cl.key}, cl.value).Int()
		cancel()
		if err == nil {
			if n == 1 {
				cl.nsp.SessionExpired(cl.sess)
			}
			return
		}
		if time.Now().Add(claimRetry).After(cl.deadline) {
			cl.nsp.Logger().Warn("redis: session expiry not reported: Redis did not answer before the session key expired",
				"socket", cl.sess.SID, "err", err)
			return
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(claimRetry):
		}
	}
}
