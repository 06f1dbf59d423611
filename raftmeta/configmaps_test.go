package raftmeta

import (
	"encoding/json"
	"errors"
	"maps"
	"testing"
)

// TestConfigMapsSnapshotFormat pins the snapshot records of the named
// config maps (broker configs, group configs, client metrics) to the JSON
// earlier versions wrote and read: sorted by name, one record each.
func TestConfigMapsSnapshotFormat(t *testing.T) {
	s := &State{
		BrokerConfigs: map[int32]map[string]string{2: {"b": "2"}, DefaultBrokerConfigs: {"a": "1"}},
		GroupConfigs:  map[string]map[string]string{"h": {"y": "2"}, "g": {"x": "1"}},
		ClientMetrics: map[string]map[string]string{"sub": {"metrics": "m"}},
	}
	for _, c := range []struct {
		got  any
		want string
	}{
		{encodeBrokerConfigs(s), `[{"broker":-1,"configs":{"a":"1"}},{"broker":2,"configs":{"b":"2"}}]`},
		{encodeGroupConfigs(s), `[{"group":"g","configs":{"x":"1"}},{"group":"h","configs":{"y":"2"}}]`},
		{encodeClientMetrics(s), `[{"name":"sub","configs":{"metrics":"m"}}]`},
		{encodeGroupConfigs(&State{}), `null`},
	} {
		b, err := json.Marshal(c.got)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("snapshot records %s, want %s", b, c.want)
		}
	}

	var d State
	if err := decodeBrokerConfigs(&d, encodeBrokerConfigs(s)); err != nil {
		t.Fatal(err)
	}
	if err := decodeGroupConfigs(&d, encodeGroupConfigs(s)); err != nil {
		t.Fatal(err)
	}
	if err := decodeClientMetrics(&d, encodeClientMetrics(s)); err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(d.BrokerConfigs, s.BrokerConfigs, maps.Equal) || !maps.EqualFunc(d.GroupConfigs, s.GroupConfigs, maps.Equal) ||
		!maps.EqualFunc(d.ClientMetrics, s.ClientMetrics, maps.Equal) {
		t.Fatalf("decoded %+v, want %+v", d, s)
	}

	for name, err := range map[string]error{
		"duplicate broker": decodeBrokerConfigs(&State{}, []brokerConfigsSnapshot{{Broker: 1, Configs: map[string]string{"a": "1"}}, {Broker: 1, Configs: map[string]string{"b": "1"}}}),
		"empty broker":     decodeBrokerConfigs(&State{}, []brokerConfigsSnapshot{{Broker: 1}}),
		"unnamed group":    decodeGroupConfigs(&State{}, []groupConfigsSnapshot{{Configs: map[string]string{"a": "1"}}}),
		"empty group":      decodeGroupConfigs(&State{}, []groupConfigsSnapshot{{Group: "g"}}),
		"unnamed metrics":  decodeClientMetrics(&State{}, []clientMetricsSnapshot{{Configs: map[string]string{"a": "1"}}}),
	} {
		if !errors.Is(err, ErrCorruptCommand) {
			t.Errorf("%s: %v, want ErrCorruptCommand", name, err)
		}
	}
}

// TestConfigMapHelpersCopy: the helpers never modify the maps of the
// previous State, and an emptied map of maps is nil.
func TestConfigMapHelpersCopy(t *testing.T) {
	one, two := "1", "2"
	cur := map[string]string{"a": "0", "b": "0"}
	nc := applyConfigOps(cur, []ConfigOp{{Key: "a", Value: &one}, {Key: "b"}, {Key: "c", Value: &two}})
	if cur["a"] != "0" || cur["b"] != "0" || len(cur) != 2 {
		t.Fatalf("applyConfigOps changed its input: %v", cur)
	}
	if !maps.Equal(nc, map[string]string{"a": "1", "c": "2"}) {
		t.Fatalf("applied %v", nc)
	}
	if m := applyConfigOps(nil, nil); m == nil || len(m) != 0 {
		t.Fatalf("applyConfigOps(nil) = %v, want an empty map", m)
	}
	m := map[string]map[string]string{"x": cur}
	next := withConfigMap(m, "y", nc)
	if len(m) != 1 || len(next) != 2 {
		t.Fatalf("withConfigMap: old %v, new %v", m, next)
	}
	if got := withConfigMap(m, "x", map[string]string{}); got != nil {
		t.Fatalf("removing the last entry left %v, want nil", got)
	}
}
