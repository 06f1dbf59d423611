package server

// Connection creation rate quotas (KIP-612), enforced at accept through
// wire.Config.AcceptQuota, as Kafka's ConnectionQuotas does:
//
//   - max.connection.creation.rate (Config.MaxConnectionCreationRate)
//     bounds new connections per second over all listeners but the
//     inter-broker one (when there are several, as Kafka protects it): a
//     connection over it is served only after the throttle time, the
//     listener's accept loop waiting meanwhile.
//   - connection_creation_rate of an "ip" quota entity (the IP's own, else
//     the default ip entity's) bounds new connections per second from one
//     IP: a connection over it is refused: held unread for the throttle
//     time, then closed, and not counted in either rate.
//
// Rates are measured like the client quotas (quota.go: 11 samples of one
// second) and throttles bounded by one sample, as Kafka bounds them.

import (
	"sync"
	"time"

	"github.com/strombroker/strom/raftmeta"
)

// connRates holds the connection rate sensors of a broker; safe for
// concurrent use by every listener.
type connRates struct {
	mu     sync.Mutex
	broker rateSensor
	ips    map[string]*rateSensor
}

// listenerAcceptQuota is one listener's wire.AcceptQuota.
type listenerAcceptQuota struct {
	s *Server
	// protected: the inter-broker listener of a broker with several,
	// exempt from max.connection.creation.rate.
	protected bool
}

// ipConnectionQuota is the connection_creation_rate applying to ip.
func ipConnectionQuota(st *raftmeta.State, ip string) (float64, bool) {
	if len(st.Quotas) == 0 {
		return 0, false
	}
	def := ""
	for _, e := range []raftmeta.QuotaEntity{{IP: &ip}, {IP: &def}} {
		if v, ok := st.Quotas[e.QuotaKey()].Values[quotaConnKey]; ok {
			return v, true
		}
	}
	return 0, false
}

// Accept implements wire.AcceptQuota.
func (q listenerAcceptQuota) Accept(ip string) (delay, refuse time.Duration) {
	ipQuota, ipLimited := ipConnectionQuota(q.s.meta.State(), ip)
	brokerQuota := float64(q.s.cfg.MaxConnectionCreationRate)
	brokerLimited := brokerQuota > 0 && !q.protected
	if !ipLimited && !brokerLimited {
		return 0, 0
	}
	r := &q.s.connRates
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if brokerLimited {
		r.broker.record(now, 1)
		rate, window := r.broker.measure(now)
		delay = quotaThrottle(rate, brokerQuota, window, quotaSampleSize)
	}
	if !ipLimited {
		return delay, 0
	}
	s := r.ips[ip]
	if s == nil {
		if r.ips == nil || len(r.ips) >= maxQuotaSensors {
			r.ips = map[string]*rateSensor{} // bounded: forgetting rates only forgives
		}
		s = &rateSensor{}
		r.ips[ip] = s
	}
	s.record(now, 1)
	rate, window := s.measure(now)
	refuse = quotaThrottle(rate, ipQuota, window, quotaSampleSize)
	if refuse > 0 {
		// Not accepted: counted in neither rate (Kafka unrecords it).
		s.record(now, -1)
		if brokerLimited {
			r.broker.record(now, -1)
		}
	}
	return delay, refuse
}

// protectedListener reports whether listener is exempt from
// max.connection.creation.rate: the inter-broker listener of a broker
// with several listeners (Kafka's protectedListener).
func (s *Server) protectedListener(listener string) bool {
	ib := s.interBrokerListener()
	return ib != "" && ib == listener
}
