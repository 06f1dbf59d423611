package server

// Client telemetry (KIP-714), the broker side of Kafka's
// ClientMetricsManager: client instances, the subscriptions they match,
// push pacing, and the pushed metrics kept for /metrics.
//
// A client instance is created by its first GetTelemetrySubscriptions (a
// zero instance id gets a fresh random one) or by a request naming an id
// this broker has not seen (the client moved brokers). Its subscription is
// evaluated against the CLIENT_METRICS resources (clientmetrics_configs.go)
// whose match selectors all match it: the union of their metric prefixes
// ("*" anywhere means all, sent as the one empty prefix KIP-714 defines),
// the smallest of their intervals (5 minutes when none matches). The
// subscription id is Kafka's: CRC-32C of the metric list and interval, XOR
// the hash of the instance id (Java's UUID.hashCode); the list is sorted
// here where Kafka iterates a HashSet, so the ids differ from Kafka's
// numbers but, as in Kafka, change exactly when the subscription does.
// Clients treat the id as opaque. When the subscriptions change, every
// instance is re-evaluated on its next request (with fresh pacing, as
// Kafka's re-created instance).
//
// Pacing, as Kafka: a Get within the push interval of the instance's last
// Get or Push is THROTTLING_QUOTA_EXCEEDED (unless the last answer was
// UNKNOWN_SUBSCRIPTION_ID or UNSUPPORTED_COMPRESSION_TYPE, which tell the
// client to re-get at once — what Kafka intends; its check as written
// throttles those too); the first Push after a Get is always accepted (the
// client jitters it), later ones only an interval apart unless terminating.
// Instances idle for max(60 s, 3 intervals) are forgotten, and at most
// maxTelemetryInstances are kept (the least recently seen goes first).

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strombroker/strom/raftmeta"
	"github.com/strombroker/strom/wire"
)

const (
	// maxTelemetryInstances is Kafka's client instance cache size.
	maxTelemetryInstances = 16384
	// telemetryMinExpiry is Kafka's cache expiry (DEFAULT_CACHE_EXPIRY_MS).
	telemetryMinExpiry = 60 * time.Second
	// telemetrySweepEvery spaces the scans for idle instances.
	telemetrySweepEvery = 10 * time.Second
)

// telemetryCodecs are the compression codecs accepted for pushes, in
// Kafka's order of preference: zstd, lz4, gzip, snappy.
var telemetryCodecs = []int8{4, 3, 1, 2}

// telemetryInstance is one client instance.
type telemetryInstance struct {
	id             [16]byte
	attrs          map[string]string // the match selector values
	software       string            // client_software_name, for metric labels
	subVersion     int               // telemetry.subVersion it was evaluated at
	subscriptionID int32
	metrics        []string // requested metric prefixes as sent
	interval       time.Duration
	lastGet        time.Time
	lastPush       time.Time
	lastSeen       time.Time
	lastErr        int16
	terminating    bool
}

// telemetry is the broker's client instances and compiled subscriptions.
type telemetry struct {
	mu         sync.Mutex
	instances  map[[16]byte]*telemetryInstance
	subs       []clientMetricsSub // compiled from the metadata
	subsOf     map[string]map[string]string
	subVersion int
	lastSweep  time.Time
	store      *telemetryStore
}

func newTelemetry() *telemetry {
	return &telemetry{instances: map[[16]byte]*telemetryInstance{}, store: newTelemetryStore()}
}

// refreshSubs recompiles the subscriptions when the metadata's changed;
// t.mu is held.
func (t *telemetry) refreshSubs(st *raftmeta.State) {
	var cur map[string]map[string]string
	if st != nil {
		cur = st.ClientMetrics
	}
	if maps.EqualFunc(cur, t.subsOf, maps.Equal) && (cur == nil) == (t.subsOf == nil) {
		return
	}
	t.subsOf = cur
	t.subs = t.subs[:0:0]
	for _, name := range slices.Sorted(maps.Keys(cur)) {
		// Stored configs were validated when written; one that no longer
		// parses (a newer broker's key) is ignored rather than fatal.
		if sub, err := parseClientMetrics(name, cur[name]); err == nil {
			t.subs = append(t.subs, sub)
		}
	}
	t.subVersion++
}

// unknownSoftware is Kafka's client software name and version for a
// connection that sent no ApiVersions v3+ (franz-go, for one, sends
// ApiVersions on its first connection to a broker only).
const unknownSoftware = "unknown"

// connSoftware is the connection's client software, "unknown" when not
// announced.
func connSoftware(c *wire.ConnInfo) wire.ClientSoftware {
	sw := c.ClientSoftware()
	if sw.Name == "" {
		sw.Name = unknownSoftware
	}
	if sw.Version == "" {
		sw.Version = unknownSoftware
	}
	return sw
}

// instanceAttrs are a client's match selector values.
func instanceAttrs(id [16]byte, req *wire.Request) map[string]string {
	sw := connSoftware(req.Conn)
	a := map[string]string{
		"client_instance_id":      uuidString(id),
		"client_id":               req.ClientID,
		"client_software_name":    sw.Name,
		"client_software_version": sw.Version,
	}
	if ta, ok := req.Conn.RemoteAddr.(*net.TCPAddr); ok {
		a["client_source_address"] = ta.IP.String()
		a["client_source_port"] = strconv.Itoa(ta.Port)
	}
	return a
}

// instance returns the instance id, creating or re-evaluating it; t.mu
// is held.
func (t *telemetry) instance(id [16]byte, req *wire.Request, now time.Time) *telemetryInstance {
	t.sweep(now)
	in := t.instances[id]
	if in == nil {
		t.evictForNew()
		in = &telemetryInstance{id: id, attrs: instanceAttrs(id, req), software: connSoftware(req.Conn).Name}
		t.instances[id] = in
	}
	if in.subVersion != t.subVersion || in.interval == 0 {
		t.evaluate(in)
	}
	in.lastSeen = now
	return in
}

// evaluate computes an instance's subscription from the subscriptions it
// matches, with fresh pacing.
func (t *telemetry) evaluate(in *telemetryInstance) {
	interval := int32(cmDefaultInterval)
	set := map[string]bool{}
	all := false
	for _, sub := range t.subs {
		if !matchesAll(sub.match, in.attrs) {
			continue
		}
		for _, m := range sub.metrics {
			set[m] = true
			all = all || m == cmAllMetrics
		}
		interval = min(interval, sub.interval)
	}
	metrics := slices.Sorted(maps.Keys(set))
	if all {
		metrics = []string{""} // KIP-714: one empty prefix is every metric
	}
	in.metrics, in.interval, in.subVersion = metrics, time.Duration(interval)*time.Millisecond, t.subVersion
	in.subscriptionID = subscriptionID(metrics, interval, in.id)
	in.lastGet, in.lastPush, in.terminating = time.Time{}, time.Time{}, false
}

func matchesAll(match map[string]*regexp.Regexp, attrs map[string]string) bool {
	for k, re := range match {
		v, ok := attrs[k]
		if !ok || !re.MatchString(v) {
			return false
		}
	}
	return true
}

// subscriptionID is Kafka's computeSubscriptionId over the metric list
// written as Java's Set.toString ("[a, b]") followed by the interval.
func subscriptionID(metrics []string, interval int32, id [16]byte) int32 {
	s := "[" + strings.Join(metrics, ", ") + "]" + strconv.Itoa(int(interval))
	crc := crc32.Checksum([]byte(s), crc32.MakeTable(crc32.Castagnoli))
	return int32(crc) ^ javaUUIDHash(id)
}

// javaUUIDHash is java.util.UUID.hashCode of the 16 bytes.
func javaUUIDHash(id [16]byte) int32 {
	hilo := binary.BigEndian.Uint64(id[:8]) ^ binary.BigEndian.Uint64(id[8:])
	return int32(hilo>>32) ^ int32(hilo)
}

// uuidString formats 16 bytes as Kafka's Uuid.toString (URL-safe base64,
// no padding).
func uuidString(id [16]byte) string {
	return formatTopicID(id)
}

// newInstanceID is a random, unused, non-reserved instance id; t.mu is held.
func (t *telemetry) newInstanceID() [16]byte {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:])
		if !reservedUUID(id) && t.instances[id] == nil {
			return id
		}
	}
}

// reservedUUID: Kafka's Uuid.RESERVED, the zero and one ids.
func reservedUUID(id [16]byte) bool {
	return id == [16]byte{} || id == [16]byte{15: 1}
}

// sweep forgets idle instances, at most every telemetrySweepEvery; t.mu
// is held.
func (t *telemetry) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < telemetrySweepEvery {
		return
	}
	t.lastSweep = now
	for id, in := range t.instances {
		if now.Sub(in.lastSeen) > max(telemetryMinExpiry, 3*in.interval) {
			delete(t.instances, id)
		}
	}
}

// evictForNew makes room for a new instance when the cache is full: the
// least recently seen goes; t.mu is held.
func (t *telemetry) evictForNew() {
	if len(t.instances) < maxTelemetryInstances {
		return
	}
	var oldest *telemetryInstance
	for _, in := range t.instances {
		if oldest == nil || in.lastSeen.Before(oldest.lastSeen) {
			oldest = in
		}
	}
	delete(t.instances, oldest.id)
}

// checkGet is Kafka's validateGetRequest.
func (in *telemetryInstance) checkGet(now time.Time) error {
	last := in.lastGet
	if in.lastPush.After(last) {
		last = in.lastPush
	}
	if now.Sub(last) < in.interval && in.lastErr != kerr.UnknownSubscriptionID.Code && in.lastErr != kerr.UnsupportedCompressionType.Code {
		return fmt.Errorf("%w: Request from the client [%s] arrived before the next push interval time", kerr.ThrottlingQuotaExceeded, uuidString(in.id))
	}
	in.lastGet = now
	return nil
}

// checkPush is Kafka's validatePushRequest, minus the payload checks.
func (in *telemetryInstance) checkPush(subID int32, terminating bool, codec int8, size, maxBytes int, now time.Time) error {
	if in.terminating {
		return fmt.Errorf("%w: Client [%s] sent the previous request with state terminating to TRUE, can not accept any requests after that", kerr.InvalidRequest, uuidString(in.id))
	}
	accept := in.lastGet.After(in.lastPush) || now.Sub(in.lastPush) >= in.interval
	if accept {
		in.lastPush = now
	} else if !terminating {
		return fmt.Errorf("%w: Request from the client [%s] arrived before the next push interval time", kerr.ThrottlingQuotaExceeded, uuidString(in.id))
	}
	if subID != in.subscriptionID {
		return fmt.Errorf("%w: Unknown client subscription id for the client [%s]", kerr.UnknownSubscriptionID, uuidString(in.id))
	}
	if codec != 0 && !slices.Contains(telemetryCodecs, codec) {
		return fmt.Errorf("%w: Unknown compression type [%d] is received in telemetry request from [%s]", kerr.UnsupportedCompressionType, codec, uuidString(in.id))
	}
	if size > maxBytes {
		return fmt.Errorf("%w: Telemetry request from [%s] is larger than the maximum allowed size [%d]", kerr.TelemetryTooLarge, uuidString(in.id), maxBytes)
	}
	return nil
}
