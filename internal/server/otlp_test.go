package server

import (
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// otlpMetric builds a MetricsData with one gauge or sum of one point.
func otlpMetric(name string, sum, delta bool, v float64) []byte {
	pt := protowire.AppendTag(nil, otlpPointAsDouble, protowire.Fixed64Type)
	pt = protowire.AppendFixed64(pt, math.Float64bits(v))
	body := protowire.AppendTag(nil, otlpPointsField, protowire.BytesType)
	body = protowire.AppendBytes(body, pt)
	field := protowire.Number(otlpMetricGauge)
	if sum {
		field = otlpMetricSum
		if delta {
			body = protowire.AppendTag(body, otlpSumTemporality, protowire.VarintType)
			body = protowire.AppendVarint(body, otlpTemporalityDelta)
		}
	}
	m := protowire.AppendTag(nil, otlpMetricName, protowire.BytesType)
	m = protowire.AppendString(m, name)
	m = protowire.AppendTag(m, field, protowire.BytesType)
	m = protowire.AppendBytes(m, body)
	sm := protowire.AppendTag(nil, otlpScopeMetricsMetrics, protowire.BytesType)
	sm = protowire.AppendBytes(sm, m)
	rm := protowire.AppendTag(nil, otlpResourceMetricsScope, protowire.BytesType)
	rm = protowire.AppendBytes(rm, sm)
	md := protowire.AppendTag(nil, otlpMetricsDataResourceMetrics, protowire.BytesType)
	return protowire.AppendBytes(md, rm)
}

// TestDecodeOTLP: gauges and delta sums decode with their values; garbage
// is an error.
func TestDecodeOTLP(t *testing.T) {
	pts, err := decodeOTLP(append(otlpMetric("a.gauge", false, false, 2.5), otlpMetric("a.sum", true, true, 7)...))
	if err != nil || len(pts) != 2 || pts[0] != (otlpPoint{name: "a.gauge", value: 2.5}) || pts[1] != (otlpPoint{name: "a.sum", sum: true, delta: true, value: 7}) {
		t.Fatalf("%+v %v", pts, err)
	}
	for _, bad := range [][]byte{{0xff}, {0x0a, 0x05, 0x01}, otlpMetric("", false, false, 1), otlpMetric("nan", false, false, math.NaN())} {
		if _, err := decodeOTLP(bad); err == nil {
			t.Fatalf("%x decoded", bad)
		}
	}
}

// FuzzDecodeOTLP: no input panics the decoder.
func FuzzDecodeOTLP(f *testing.F) {
	f.Add(otlpMetric("seed", true, true, 1))
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeOTLP(b)
	})
}
