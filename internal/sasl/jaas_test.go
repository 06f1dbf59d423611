package sasl

import (
	"errors"
	"maps"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	cases := []struct {
		name, in string
		want     []LoginModule
	}{
		{"kafka example", `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`,
			[]LoginModule{{PlainLoginModule, "required", map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": "alice-secret"}}}},
		{"quotes, escapes, comments, two modules", "// a comment\n" + `a.B required k='x y' q="a\"b\\c;=" /* c */ n=42; c.D optional;`,
			[]LoginModule{{"a.B", "required", map[string]string{"k": "x y", "q": `a"b\c;=`, "n": "42"}}, {"c.D", "optional", map[string]string{}}}},
		{"multi-line", "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=\"broker\"\n  password=\"s3cr=t\";\n",
			[]LoginModule{{ScramLoginModule, "required", map[string]string{"username": "broker", "password": "s3cr=t"}}}},
	}
	for _, c := range cases {
		got, err := ParseJAAS(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Fatalf("%s: %d modules, want %d", c.name, len(got), len(c.want))
		}
		for i := range got {
			if got[i].Class != c.want[i].Class || got[i].Flag != c.want[i].Flag || !maps.Equal(got[i].Options, c.want[i].Options) {
				t.Fatalf("%s: module %d = %+v, want %+v", c.name, i, got[i], c.want[i])
			}
		}
	}
}

func TestParseJAASErrors(t *testing.T) {
	for _, in := range []string{
		``, `a.B`, `a.B required`, `a.B maybe;`, `a.B required k=;`, `a.B required k="open;`,
		`a.B required k v;`, `a.B required /* open`, `a.B required k=v`, `= required;`, `a.B required k=v;;`,
	} {
		if _, err := ParseJAAS(in); !errors.Is(err, ErrInvalidJAAS) {
			t.Errorf("ParseJAAS(%q) = %v, want ErrInvalidJAAS", in, err)
		}
	}
	if _, err := ParseJAASModule(`a.B required; c.D required;`); !errors.Is(err, ErrInvalidJAAS) {
		t.Errorf("two modules in sasl.jaas.config: %v", err)
	}
}

func TestPlainUsers(t *testing.T) {
	m, err := ParseJAASModule(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="pw" user_admin="pw" user_alice="a b";`)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.PlainUsers(); !maps.Equal(got, map[string]string{"admin": "pw", "alice": "a b"}) {
		t.Fatalf("PlainUsers = %v", got)
	}
}

func FuzzParseJAAS(f *testing.F) {
	f.Add(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="x\"y";`)
	f.Add(`a b c='d'; /* x */ // y`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseJAAS(s)
	})
}
