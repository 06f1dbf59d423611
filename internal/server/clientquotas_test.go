package server

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func quotaEnt(kv ...*string) kadm.ClientQuotaEntity {
	var e kadm.ClientQuotaEntity
	if kv[0] != nil {
		e = append(e, kadm.ClientQuotaEntityComponent{Type: "user", Name: nilIfEmpty(*kv[0])})
	}
	if len(kv) > 1 && kv[1] != nil {
		e = append(e, kadm.ClientQuotaEntityComponent{Type: "client-id", Name: nilIfEmpty(*kv[1])})
	}
	return e
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// TestAlterClientQuotasValidation: Kafka's INVALID_REQUEST and
// UNSUPPORTED_VERSION cases, each for its own entity, and validate_only
// writing nothing.
func TestAlterClientQuotasValidation(t *testing.T) {
	_, addr := startTestServer(t)
	adm := newAdmin(t, addr)
	ctx := testCtx(t, 30*time.Second)
	alice := "alice"
	set := func(k string, v float64) []kadm.AlterClientQuotaOp {
		return []kadm.AlterClientQuotaOp{{Key: k, Value: v}}
	}
	empty := ""
	cases := []struct {
		entry kadm.AlterClientQuotaEntry
		want  error
	}{
		{kadm.AlterClientQuotaEntry{Entity: quotaEnt(&alice), Ops: set("producer_byte_rate", 1000)}, nil},
		{kadm.AlterClientQuotaEntry{Entity: quotaEnt(&alice), Ops: set("bogus_rate", 1)}, kerr.InvalidRequest},
		{kadm.AlterClientQuotaEntry{Entity: quotaEnt(&alice), Ops: set("consumer_byte_rate", -5)}, kerr.InvalidRequest},
		{kadm.AlterClientQuotaEntry{Entity: quotaEnt(&alice), Ops: set("consumer_byte_rate", 1.5)}, kerr.InvalidRequest},
		{kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &empty}}, Ops: set("producer_byte_rate", 1)}, kerr.InvalidRequest},
		{kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &alice}, {Type: "user"}}, Ops: set("producer_byte_rate", 1)}, kerr.InvalidRequest},
		{kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: &alice}}, Ops: set("producer_byte_rate", 1)}, kerr.InvalidRequest},
		{kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "group", Name: &alice}}, Ops: set("producer_byte_rate", 1)}, kerr.UnsupportedVersion},
		{kadm.AlterClientQuotaEntry{Entity: nil, Ops: set("producer_byte_rate", 1)}, kerr.InvalidRequest},
	}
	for _, validate := range []bool{true, false} {
		for i, c := range cases {
			alter := adm.AlterClientQuotas
			if validate {
				alter = adm.ValidateAlterClientQuotas
			}
			res, err := alter(ctx, []kadm.AlterClientQuotaEntry{c.entry})
			if err != nil || len(res) != 1 {
				t.Fatalf("case %d: %v %v", i, res, err)
			}
			if !errors.Is(res[0].Err, c.want) && !(c.want == nil && res[0].Err == nil) {
				t.Fatalf("case %d validate=%v: %v (%s), want %v", i, validate, res[0].Err, res[0].ErrMessage, c.want)
			}
		}
		if validate {
			if d, err := adm.DescribeClientQuotas(ctx, false, nil); err != nil || len(d) != 0 {
				t.Fatalf("validate_only wrote quotas: %v %v", d, err)
			}
		}
	}
}

// TestDescribeClientQuotasMatching: exact, default and specified matches,
// strict, and the filter errors.
func TestDescribeClientQuotasMatching(t *testing.T) {
	_, addr := startTestServer(t)
	adm := newAdmin(t, addr)
	ctx := testCtx(t, 30*time.Second)
	alice, app, def := "alice", "app", ""
	var entries []kadm.AlterClientQuotaEntry
	for i, e := range []kadm.ClientQuotaEntity{quotaEnt(&alice), quotaEnt(&def), quotaEnt(&alice, &app), quotaEnt(nil, &app), quotaEnt(nil, &def), quotaEnt(&def, &def)} {
		entries = append(entries, kadm.AlterClientQuotaEntry{Entity: e, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: float64(1000 * (i + 1))}}})
	}
	res, err := adm.AlterClientQuotas(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%v: %v %s", r.Entity, r.Err, r.ErrMessage)
		}
	}
	exact := func(typ, name string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: typ, MatchName: &name, MatchType: 0}
	}
	dflt := func(typ string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: typ, MatchType: 1}
	}
	anyName := func(typ string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: typ, MatchType: 2}
	}
	for i, c := range []struct {
		strict bool
		comps  []kadm.DescribeClientQuotaComponent
		want   int
	}{
		{false, nil, 6},
		{true, nil, 0},
		{false, []kadm.DescribeClientQuotaComponent{exact("user", "alice")}, 2},
		{true, []kadm.DescribeClientQuotaComponent{exact("user", "alice")}, 1},
		{true, []kadm.DescribeClientQuotaComponent{dflt("user")}, 1},
		{false, []kadm.DescribeClientQuotaComponent{dflt("client-id")}, 2},
		{false, []kadm.DescribeClientQuotaComponent{anyName("client-id")}, 4},
		{true, []kadm.DescribeClientQuotaComponent{anyName("user"), anyName("client-id")}, 2},
		{true, []kadm.DescribeClientQuotaComponent{exact("user", "alice"), exact("client-id", "app")}, 1},
	} {
		d, err := adm.DescribeClientQuotas(ctx, c.strict, c.comps)
		if err != nil || len(d) != c.want {
			t.Fatalf("case %d: got %d entries %v, %v; want %d", i, len(d), d, err, c.want)
		}
	}
	d, _ := adm.DescribeClientQuotas(ctx, true, []kadm.DescribeClientQuotaComponent{dflt("user")})
	if len(d[0].Entity) != 1 || d[0].Entity[0].Name != nil || d[0].Values[0].Value != 2000 {
		t.Fatalf("default user entry %+v", d[0])
	}
	for i, comps := range [][]kadm.DescribeClientQuotaComponent{
		{exact("user", "a"), dflt("user")},
		{{Type: "user", MatchType: 0}},
		{{Type: "user", MatchType: 1, MatchName: &alice}},
		{{Type: "", MatchType: 2}},
	} {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		for _, c := range comps {
			rc := kmsg.NewDescribeClientQuotasRequestComponent()
			rc.EntityType, rc.Match, rc.MatchType = c.Type, c.MatchName, c.MatchType
			req.Components = append(req.Components, rc)
		}
		resp, err := req.RequestWith(ctx, newClient(t, addr))
		if err != nil || resp.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("bad filter %d: %+v %v", i, resp, err)
		}
	}
}
