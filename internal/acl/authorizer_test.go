package acl

import (
	"fmt"
	"testing"
)

func allow(rt ResourceType, pt PatternType, name, principal, host string, op Operation) Binding {
	return Binding{ResourceType: rt, ResourceName: name, PatternType: pt, Principal: principal, Host: host, Operation: op, Permission: PermAllow}
}

func deny(rt ResourceType, pt PatternType, name, principal, host string, op Operation) Binding {
	b := allow(rt, pt, name, principal, host, op)
	b.Permission = PermDeny
	return b
}

func TestAuthorize(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	cases := []struct {
		name     string
		cfg      Config
		bindings []Binding
		p, host  string
		op       Operation
		rt       ResourceType
		res      string
		want     bool
	}{
		{"no acls denies", Config{}, nil, alice, "1.2.3.4", OpRead, ResourceTopic, "t", false},
		{"no acls allow everyone", Config{AllowEveryoneIfNoACLFound: true}, nil, alice, "h", OpRead, ResourceTopic, "t", true},
		{"allow everyone but other principal's acl names it", Config{AllowEveryoneIfNoACLFound: true},
			[]Binding{allow(ResourceTopic, PatternLiteral, "t", bob, "*", OpRead)}, alice, "h", OpRead, ResourceTopic, "t", false},
		{"allow everyone, acl on other topic", Config{AllowEveryoneIfNoACLFound: true},
			[]Binding{allow(ResourceTopic, PatternLiteral, "u", bob, "*", OpRead)}, alice, "h", OpRead, ResourceTopic, "t", true},
		{"literal allow", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead)}, alice, "h", OpRead, ResourceTopic, "t", true},
		{"literal other op", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead)}, alice, "h", OpWrite, ResourceTopic, "t", false},
		{"literal other name", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead)}, alice, "h", OpRead, ResourceTopic, "tt", false},
		{"other type", Config{}, []Binding{allow(ResourceGroup, PatternLiteral, "t", alice, "*", OpRead)}, alice, "h", OpRead, ResourceTopic, "t", false},
		{"deny beats allow", Config{}, []Binding{
			allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead),
			deny(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead)}, alice, "h", OpRead, ResourceTopic, "t", false},
		{"prefixed deny beats literal allow", Config{}, []Binding{
			allow(ResourceTopic, PatternLiteral, "foo-1", alice, "*", OpRead),
			deny(ResourceTopic, PatternPrefixed, "foo", "User:*", "*", OpAll)}, alice, "h", OpRead, ResourceTopic, "foo-1", false},
		{"prefixed allow", Config{}, []Binding{allow(ResourceTopic, PatternPrefixed, "foo", alice, "*", OpWrite)}, alice, "h", OpWrite, ResourceTopic, "foo-bar", true},
		{"prefixed equal name", Config{}, []Binding{allow(ResourceTopic, PatternPrefixed, "foo", alice, "*", OpWrite)}, alice, "h", OpWrite, ResourceTopic, "foo", true},
		{"prefixed no match", Config{}, []Binding{allow(ResourceTopic, PatternPrefixed, "foo", alice, "*", OpWrite)}, alice, "h", OpWrite, ResourceTopic, "fo", false},
		{"literal is not prefix", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "foo", alice, "*", OpWrite)}, alice, "h", OpWrite, ResourceTopic, "foo-bar", false},
		{"wildcard resource", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "*", alice, "*", OpRead)}, alice, "h", OpRead, ResourceTopic, "any", true},
		{"wildcard principal", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", "User:*", "*", OpRead)}, bob, "h", OpRead, ResourceTopic, "t", true},
		{"host exact", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "10.0.0.1", OpRead)}, alice, "10.0.0.1", OpRead, ResourceTopic, "t", true},
		{"host other", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "10.0.0.1", OpRead)}, alice, "10.0.0.2", OpRead, ResourceTopic, "t", false},
		{"deny from one host", Config{}, []Binding{
			allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead),
			deny(ResourceTopic, PatternLiteral, "t", alice, "10.0.0.9", OpRead)}, alice, "10.0.0.1", OpRead, ResourceTopic, "t", true},
		{"read implies describe", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead)}, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"write implies describe", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpWrite)}, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"delete implies describe", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpDelete)}, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"alter implies describe", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpAlter)}, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"create does not imply describe", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpCreate)}, alice, "h", OpDescribe, ResourceTopic, "t", false},
		{"describe does not imply read", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpDescribe)}, alice, "h", OpRead, ResourceTopic, "t", false},
		{"alter_configs implies describe_configs", Config{}, []Binding{allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpAlterConfigs)}, alice, "h", OpDescribeConfigs, ResourceTopic, "t", true},
		{"deny read does not deny describe", Config{}, []Binding{
			allow(ResourceTopic, PatternLiteral, "t", alice, "*", OpAll),
			deny(ResourceTopic, PatternLiteral, "t", alice, "*", OpRead)}, alice, "h", OpDescribe, ResourceTopic, "t", true},
		{"all covers", Config{}, []Binding{allow(ResourceCluster, PatternLiteral, ClusterName, alice, "*", OpAll)}, alice, "h", OpClusterAction, ResourceCluster, ClusterName, true},
		{"deny all", Config{}, []Binding{
			allow(ResourceGroup, PatternLiteral, "g", alice, "*", OpRead),
			deny(ResourceGroup, PatternLiteral, "*", alice, "*", OpAll)}, alice, "h", OpRead, ResourceGroup, "g", false},
		{"super user", Config{SuperUsers: []string{alice}}, []Binding{deny(ResourceTopic, PatternLiteral, "t", alice, "*", OpAll)}, alice, "h", OpWrite, ResourceTopic, "t", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := New(c.cfg)
			a.SetBindings(c.bindings)
			if got := a.Authorize(c.p, c.host, c.op, c.rt, c.res); got != c.want {
				t.Fatalf("Authorize(%s, %s, %v, %v, %q) = %v, want %v", c.p, c.host, c.op, c.rt, c.res, got, c.want)
			}
		})
	}
}

func TestAuthorizeAny(t *testing.T) {
	a := New(Config{})
	if a.AuthorizeAny("User:a", "h", OpWrite, ResourceTopic) {
		t.Fatal("no bindings: allowed")
	}
	a.SetBindings([]Binding{allow(ResourceTopic, PatternLiteral, "t", "User:a", "*", OpWrite)})
	if !a.AuthorizeAny("User:a", "h", OpWrite, ResourceTopic) {
		t.Fatal("write on t: denied")
	}
	a.SetBindings([]Binding{
		allow(ResourceTopic, PatternLiteral, "t", "User:a", "*", OpWrite),
		deny(ResourceTopic, PatternPrefixed, "t", "User:*", "*", OpWrite),
	})
	if a.AuthorizeAny("User:a", "h", OpWrite, ResourceTopic) {
		t.Fatal("write on t denied by prefix t: allowed")
	}
	a.SetBindings([]Binding{
		allow(ResourceTopic, PatternPrefixed, "team-", "User:a", "*", OpAll),
		deny(ResourceTopic, PatternLiteral, "team-x", "User:a", "*", OpWrite),
	})
	if !a.AuthorizeAny("User:a", "h", OpWrite, ResourceTopic) {
		t.Fatal("prefixed allow not covered by one literal deny: denied")
	}
	a.SetBindings([]Binding{
		allow(ResourceTopic, PatternLiteral, "t", "User:a", "*", OpWrite),
		deny(ResourceTopic, PatternLiteral, "*", "User:a", "*", OpAll),
	})
	if a.AuthorizeAny("User:a", "h", OpWrite, ResourceTopic) {
		t.Fatal("deny on every topic: allowed")
	}
	if !New(Config{SuperUsers: []string{"User:a"}}).AuthorizeAny("User:a", "h", OpWrite, ResourceTopic) {
		t.Fatal("super user denied")
	}
}

func TestFilter(t *testing.T) {
	lit := allow(ResourceTopic, PatternLiteral, "foo", "User:a", "*", OpRead)
	wild := allow(ResourceTopic, PatternLiteral, "*", "User:a", "*", OpRead)
	pre := allow(ResourceTopic, PatternPrefixed, "fo", "User:a", "*", OpRead)
	other := allow(ResourceGroup, PatternLiteral, "foo", "User:b", "1.1.1.1", OpDelete)
	s := func(v string) *string { return &v }
	cases := []struct {
		name string
		f    Filter
		want []Binding
	}{
		{"any", Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermAny}, []Binding{lit, wild, pre, other}},
		{"any by name", Filter{ResourceType: ResourceAny, ResourceName: s("foo"), PatternType: PatternAny, Operation: OpAny, Permission: PermAny}, []Binding{lit, other}},
		{"match", Filter{ResourceType: ResourceTopic, ResourceName: s("foo"), PatternType: PatternMatch, Operation: OpAny, Permission: PermAny}, []Binding{lit, wild, pre}},
		{"literal", Filter{ResourceType: ResourceTopic, ResourceName: s("foo"), PatternType: PatternLiteral, Operation: OpAny, Permission: PermAny}, []Binding{lit}},
		{"prefixed", Filter{ResourceType: ResourceTopic, PatternType: PatternPrefixed, Operation: OpAny, Permission: PermAny}, []Binding{pre}},
		{"principal host op", Filter{ResourceType: ResourceAny, PatternType: PatternAny, Principal: s("User:b"), Host: s("1.1.1.1"), Operation: OpDelete, Permission: PermAllow}, []Binding{other}},
	}
	for _, c := range cases {
		var got []Binding
		for _, b := range []Binding{lit, wild, pre, other} {
			if c.f.Matches(b) {
				got = append(got, b)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := allow(ResourceTopic, PatternLiteral, "t", "User:a", "*", OpRead)
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Binding){
		func(b *Binding) { b.ResourceType = ResourceAny },
		func(b *Binding) { b.PatternType = PatternMatch },
		func(b *Binding) { b.Operation = OpAny },
		func(b *Binding) { b.Permission = PermAny },
		func(b *Binding) { b.ResourceName = "" },
		func(b *Binding) { b.Principal = "alice" },
		func(b *Binding) { b.ResourceType, b.ResourceName = ResourceCluster, "c" },
	}
	for i, m := range bad {
		b := ok
		m(&b)
		if b.Validate() == nil {
			t.Errorf("case %d: %v accepted", i, b)
		}
	}
	if _, err := ParseSuperUsers("User:a;User:CN=x,O=y; "); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSuperUsers("alice"); err == nil {
		t.Fatal("super.users without a type accepted")
	}
}

func TestAuthorizedOps(t *testing.T) {
	a := New(Config{})
	a.SetBindings([]Binding{allow(ResourceGroup, PatternLiteral, "g", "User:a", "*", OpRead)})
	want := int32(1<<OpRead | 1<<OpDescribe)
	if got := a.AuthorizedOps("User:a", "h", ResourceGroup, "g"); got != want {
		t.Fatalf("ops %b, want %b", got, want)
	}
}

// BenchmarkAuthorize checks one operation against 10 000 bindings (half
// literal, half prefixed, over 100 principals).
func BenchmarkAuthorize(b *testing.B) {
	var bs []Binding
	for i := range 10000 {
		pt := PatternLiteral
		if i%2 == 1 {
			pt = PatternPrefixed
		}
		bs = append(bs, allow(ResourceTopic, pt, fmt.Sprintf("team%d-topic%d", i%100, i), fmt.Sprintf("User:u%d", i%100), "*", OpRead))
	}
	a := New(Config{})
	a.SetBindings(bs)
	if !a.Authorize("User:u42", "10.0.0.1", OpRead, ResourceTopic, "team42-topic42") {
		b.Fatal("not allowed")
	}
	b.ReportAllocs()
	for b.Loop() {
		a.Authorize("User:u42", "10.0.0.1", OpRead, ResourceTopic, "team42-topic4243-x")
	}
}
