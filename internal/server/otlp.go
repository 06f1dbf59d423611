package server

// A reader for the OTLP MetricsData protobuf that PushTelemetry carries
// (KIP-714: opentelemetry/proto/metrics/v1/metrics.proto), enough to expose
// pushed gauges and sums: it walks the wire format with protowire (already
// a dependency, through Prometheus' client_model) instead of generated
// OTLP types, which would add the OpenTelemetry proto module for five
// message types. Histograms, exponential histograms and summaries are
// skipped (clients of this ecosystem push gauges and sums only); unknown
// fields are skipped as protobuf requires. Malformed input is an error
// (INVALID_RECORD), never a panic: every length comes from protowire,
// which checks it against the buffer.

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// errOTLP: the payload is not a MetricsData message.
var errOTLP = errors.New("malformed OTLP metrics")

// maxOTLPPoints bounds the data points read from one push.
const maxOTLPPoints = 10000

// otlpPoint is one number data point of a gauge or sum.
type otlpPoint struct {
	name  string
	sum   bool // a Sum (else a Gauge)
	delta bool // a Sum with delta temporality
	value float64
}

// OTLP field numbers (metrics.proto).
const (
	otlpMetricsDataResourceMetrics = 1
	otlpResourceMetricsScope       = 2
	otlpScopeMetricsMetrics        = 2
	otlpMetricName                 = 1
	otlpMetricGauge                = 5
	otlpMetricSum                  = 7
	otlpPointsField                = 1 // Gauge.data_points, Sum.data_points
	otlpSumTemporality             = 2
	otlpPointAsDouble              = 4
	otlpPointAsInt                 = 6
	otlpTemporalityDelta           = 1
)

// decodeOTLP returns the gauge and sum points of a MetricsData message.
func decodeOTLP(b []byte) ([]otlpPoint, error) {
	var out []otlpPoint
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != otlpMetricsDataResourceMetrics || typ != protowire.BytesType {
			return nil
		}
		return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if num != otlpResourceMetricsScope || typ != protowire.BytesType {
				return nil
			}
			return eachField(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != otlpScopeMetricsMetrics || typ != protowire.BytesType {
					return nil
				}
				pts, err := decodeOTLPMetric(v)
				out = append(out, pts...)
				if len(out) > maxOTLPPoints {
					return fmt.Errorf("%w: more than %d data points", errOTLP, maxOTLPPoints)
				}
				return err
			})
		})
	})
	return out, err
}

// decodeOTLPMetric reads one Metric: its name and, for a gauge or sum, its
// data points.
func decodeOTLPMetric(b []byte) ([]otlpPoint, error) {
	var name string
	var body []byte
	var sum bool
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == otlpMetricName && typ == protowire.BytesType:
			name = string(v)
		case (num == otlpMetricGauge || num == otlpMetricSum) && typ == protowire.BytesType:
			body, sum = v, num == otlpMetricSum
		}
		return nil
	})
	if err != nil || body == nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("%w: a metric without a name", errOTLP)
	}
	var pts []otlpPoint
	delta := false
	err = eachField(body, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch {
		case num == otlpPointsField && typ == protowire.BytesType:
			val, err := decodeOTLPValue(v)
			pts = append(pts, otlpPoint{name: name, sum: sum, value: val})
			return err
		case sum && num == otlpSumTemporality && typ == protowire.VarintType && len(v) == 8:
			delta = int64(leUint64(v)) == otlpTemporalityDelta
		}
		return nil
	})
	for i := range pts {
		pts[i].delta = delta
	}
	return pts, err
}

// decodeOTLPValue reads a NumberDataPoint's value (as_double or as_int).
func decodeOTLPValue(b []byte) (float64, error) {
	var val float64
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.Fixed64Type {
			return nil
		}
		switch num {
		case otlpPointAsDouble:
			val = math.Float64frombits(leUint64(v))
		case otlpPointAsInt:
			val = float64(int64(leUint64(v)))
		}
		return nil
	})
	if math.IsNaN(val) || math.IsInf(val, 0) {
		return 0, fmt.Errorf("%w: a value that is not a number", errOTLP)
	}
	return val, err
}

// eachField calls fn with every field of a message. Length-delimited values
// are passed as their bytes, varints and fixed64s as 8 little-endian bytes
// (fixed32s as 4), groups are refused.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errOTLP, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			var x uint64
			x, n = protowire.ConsumeVarint(b)
			v = protowire.AppendFixed64(nil, x)
		case protowire.Fixed64Type:
			var x uint64
			x, n = protowire.ConsumeFixed64(b)
			v = protowire.AppendFixed64(nil, x)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = protowire.AppendFixed32(nil, x)
		default:
			return fmt.Errorf("%w: wire type %d", errOTLP, typ)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errOTLP, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

// leUint64 reads 8 little-endian bytes.
func leUint64(v []byte) uint64 {
	x, _ := protowire.ConsumeFixed64(v)
	return x
}
