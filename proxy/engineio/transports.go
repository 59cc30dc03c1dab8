package engineio

import "slices"

// transports is what Config.Transports and Config.DisableUpgrades allow,
// worked out once by NewServer.
type transports struct {
	polling, websocket bool
	// upgrades: a polling handshake announces "websocket" in its
	// upgrades list. The reference announces the upgrades of the
	// handshake's transport that are both allowed and enabled
	// (allowUpgrades); only polling upgrades, and only to WebSocket.
	upgrades bool
}

func newTransports(cfg Config) transports {
	if len(cfg.Transports) == 0 {
		return transports{polling: true, websocket: true, upgrades: !cfg.DisableUpgrades}
	}
	t := transports{
		polling:   slices.Contains(cfg.Transports, transportNamePolling),
		websocket: slices.Contains(cfg.Transports, transportNameWebSocket),
	}
	t.upgrades = t.websocket && !cfg.DisableUpgrades
	return t
}

// allows reports whether a request naming transport may be served: the
// reference's first check (verify), answered with "Transport unknown"
// otherwise, on handshakes and on requests of open sessions alike.
func (t transports) allows(transport string) bool {
	switch transport {
	case transportNamePolling:
		return t.polling
	case transportNameWebSocket:
		return t.websocket
	}
	return false
}
