package config

import "time"

// defaults fills every key the file left out.
func (l *loader) defaults(c *Config) {
	def := func(path string) bool { return !l.defined[path] }
	s := &c.Server
	if def("server.listen") {
		s.Listen = DefaultListen
	}
	if def("server.path") {
		s.Path = DefaultPath
	}
	if def("server.ping_interval") {
		s.PingInterval = DefaultPingInterval
	}
	if def("server.ping_timeout") {
		s.PingTimeout = DefaultPingTimeout
	}
	if def("server.max_http_buffer_size") {
		s.MaxHTTPBufferSize = DefaultMaxHTTPBufferSize
	}
	if def("server.max_queue_bytes") {
		s.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if def("server.broadcast_delay") {
		s.BroadcastDelay = DefaultBroadcastDelay
	}
	if def("server.connect_timeout") {
		s.ConnectTimeout = DefaultConnectTimeout
	}
	if def("server.shutdown_timeout") {
		s.ShutdownTimeout = DefaultShutdownTimeout
	}
	l.serverOptionDefaults(c)
	if c.API != nil && def("api.listen") {
		c.API.Listen = DefaultAPIListen
	}
	for i := range c.Namespaces {
		n := &c.Namespaces[i]
		p := indexPath("namespace", i)
		if def(p + ".events") {
			n.Events = []string{"*"}
		}
		if def(p + ".error_event") {
			n.ErrorEvent = DefaultErrorEvent
		}
		if def(p + ".timeout") {
			n.Timeout = DefaultTimeout
		}
		if def(p + ".on_connect") {
			n.OnConnect = OnConnectWebhook
		}
		for j := range n.Plugins {
			pp := indexPath(p+".plugin", j)
			switch pl := n.Plugins[j]; {
			case pl.JWT != nil:
				if def(pp + ".from") {
					pl.JWT.From = "auth"
				}
				if def(pp + ".jwks_refresh") {
					pl.JWT.JWKSRefresh = Duration(time.Hour)
				}
			case pl.RateLimit != nil:
				if def(pp+".connect_burst") && pl.RateLimit.ConnectsPerSecond > 0 {
					pl.RateLimit.ConnectBurst = max(1, int(min(1<<30, pl.RateLimit.ConnectsPerSecond+0.999999)))
				}
				if def(pp+".burst") && pl.RateLimit.EventsPerSecond > 0 {
					pl.RateLimit.Burst = max(1, int(min(1<<30, pl.RateLimit.EventsPerSecond+0.999999)))
				}
				if def(pp + ".per") {
					pl.RateLimit.Per = "socket"
				}
				if def(pp + ".action") {
					pl.RateLimit.Action = "error"
				}
			}
		}
	}
	for i := range c.Streams {
		st := &c.Streams[i]
		p := indexPath("stream", i)
		if def(p + ".name") {
			st.Name = p
		}
		if def(p + ".namespace") {
			st.Namespace = "/"
		}
	}
	if def("tls.mode") {
		c.TLS.Mode = TLSOff
	}
	if def("tls.min_version") {
		c.TLS.MinVersion = DefaultTLSMinVersion
	}
	if def("telemetry.protocol") {
		c.Telemetry.Protocol = DefaultOTLPProtocol
	}
	if def("telemetry.service_name") {
		c.Telemetry.ServiceName = DefaultServiceName
	}
	if def("telemetry.sample_ratio") {
		c.Telemetry.SampleRatio = 1
	}
	if def("adapter.type") {
		c.Adapter.Type = DefaultAdapterType
	}
	if def("adapter.key_prefix") {
		c.Adapter.KeyPrefix = DefaultKeyPrefix
	}
	if def("adapter.mode") {
		c.Adapter.Mode = DefaultAdapterMode
	}
	if def("adapter.request_timeout") {
		c.Adapter.RequestTimeout = DefaultRequestTimeout
	}
	if def("adapter.subscription_mode") {
		c.Adapter.SubscriptionMode = "dynamic"
	}
	if def("adapter.publish_queue") {
		c.Adapter.PublishQueue = 10000
	}
	if def("adapter.stream_max_len") {
		c.Adapter.StreamMaxLen = 10000
	}
	if def("adapter.stream_count") {
		c.Adapter.StreamCount = 1
	}
}
