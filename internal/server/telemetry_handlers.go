package server

// GetTelemetrySubscriptions (71) and PushTelemetry (72): version 0, as
// Kafka's ClientMetricsManager (telemetry.go has the rules).
//
// GetTelemetrySubscriptions answers the instance id (a new one for the zero
// id), the subscription id, the requested metric prefixes, the push
// interval, the accepted codecs (zstd, lz4, gzip, snappy), the maximum
// payload (telemetry.max.bytes) and delta temporality; too early is
// THROTTLING_QUOTA_EXCEEDED.
//
// PushTelemetry checks, in Kafka's order: a zero or reserved instance id
// (INVALID_REQUEST), a push after a terminating one (INVALID_REQUEST), the
// pacing (THROTTLING_QUOTA_EXCEEDED), the subscription id
// (UNKNOWN_SUBSCRIPTION_ID), the codec (UNSUPPORTED_COMPRESSION_TYPE), the
// size (TELEMETRY_TOO_LARGE); then it decompresses the payload (bounded by
// 16 times telemetry.max.bytes) and decodes it as OTLP MetricsData
// (otlp.go): a payload that does not decompress or decode is
// INVALID_RECORD. The metrics are then on /metrics (telemetry_store.go).
// Neither API needs an ACL, as in Kafka.

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strombroker/strom/wire"
)

// telemetryInflate bounds the decompressed size of a push, in multiples of
// telemetry.max.bytes.
const telemetryInflate = 16

func (s *Server) handleGetTelemetrySubscriptions(req *wire.Request, r *kmsg.GetTelemetrySubscriptionsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.GetTelemetrySubscriptionsResponse)
	resp.Version = r.Version
	t, now := s.telemetry, time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshSubs(s.metaState())
	id := r.ClientInstanceID
	if id == [16]byte{} {
		id = t.newInstanceID()
	}
	in := t.instance(id, req, now)
	if err := in.checkGet(now); err != nil {
		resp.ErrorCode = errorCode(err)
		return resp
	}
	in.lastErr = 0
	resp.ClientInstanceID = id
	resp.SubscriptionID = in.subscriptionID
	resp.AcceptedCompressionTypes = append([]int8(nil), telemetryCodecs...)
	resp.PushIntervalMillis = int32(in.interval / time.Millisecond)
	resp.TelemetryMaxBytes = s.cfg.TelemetryMaxBytes
	resp.DeltaTemporality = true
	resp.RequestedMetrics = append([]string{}, in.metrics...)
	return resp
}

func (s *Server) handlePushTelemetry(req *wire.Request, r *kmsg.PushTelemetryRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.PushTelemetryResponse)
	resp.Version = r.Version
	software, err := s.checkPush(req, r)
	if err == nil && len(r.Metrics) > 0 {
		err = s.recordPush(software, r)
	}
	resp.ErrorCode = errorCode(err)
	name := "NONE"
	if err != nil {
		name = kerr.ErrorForCode(resp.ErrorCode).(*kerr.Error).Message
	}
	s.telemetry.store.pushed(name)
	return resp
}

// checkPush runs the instance checks; the instance's software name.
func (s *Server) checkPush(req *wire.Request, r *kmsg.PushTelemetryRequest) (string, error) {
	if reservedUUID(r.ClientInstanceID) {
		return "", errors.Join(kerr.InvalidRequest, errors.New("invalid client instance id"))
	}
	t, now := s.telemetry, time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshSubs(s.metaState())
	in := t.instance(r.ClientInstanceID, req, now)
	err := in.checkPush(r.SubscriptionID, r.Terminating, r.CompressionType, len(r.Metrics), int(s.cfg.TelemetryMaxBytes), now)
	in.terminating = in.terminating || r.Terminating
	in.lastErr = errorCode(err)
	return in.software, err
}

// recordPush decompresses and decodes a push and stores its points.
func (s *Server) recordPush(software string, r *kmsg.PushTelemetryRequest) error {
	raw := r.Metrics
	if r.CompressionType != 0 {
		var err error
		if raw, err = decompressBatch(int(r.CompressionType), r.Metrics, telemetryInflate*int(s.cfg.TelemetryMaxBytes)); err != nil {
			return s.badPush(r, err)
		}
	}
	pts, err := decodeOTLP(raw)
	if err != nil {
		return s.badPush(r, err)
	}
	s.telemetry.store.record(software, pts)
	return nil
}

// badPush marks the instance's last error INVALID_RECORD, as Kafka does
// when its receiver cannot take a payload.
func (s *Server) badPush(r *kmsg.PushTelemetryRequest, err error) error {
	s.telemetry.mu.Lock()
	if in := s.telemetry.instances[r.ClientInstanceID]; in != nil {
		in.lastErr = kerr.InvalidRecord.Code
	}
	s.telemetry.mu.Unlock()
	s.logger.Debug("undecodable client telemetry", "client_instance_id", uuidString(r.ClientInstanceID), "err", err)
	return errors.Join(kerr.InvalidRecord, err)
}
