package server

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
	"time"

	"github.com/strombroker/strom/internal/certs"
)

// Kafka's own rule examples (SslPrincipalMapperTest and the security docs).
func TestPrincipalMappingRulesValid(t *testing.T) {
	for _, rules := range []string{
		"DEFAULT",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
		"RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
		"RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
		"RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
	} {
		if _, err := ParsePrincipalMappingRules(rules); err != nil {
			t.Errorf("%q: %v", rules, err)
		}
	}
}

func TestPrincipalMappingRulesInvalid(t *testing.T) {
	for _, rules := range []string{
		"default",
		"DEFAUL",
		"DEFAULT/L",
		"DEFAULT/U",
		"RULE:CN=(.*?),OU=ServiceUsers.*/$1",
		"rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
		"RULE:^CN=(unclosed/$1/",
	} {
		if _, err := ParsePrincipalMappingRules(rules); err == nil {
			t.Errorf("%q parsed, want an error", rules)
		}
	}
}

func TestPrincipalMapper(t *testing.T) {
	m, err := ParsePrincipalMappingRules("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, " +
		"RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, " +
		"RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, " +
		"RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, " +
		"DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	for dn, want := range map[string]string{
		"CN=Duke,OU=ServiceUsers,O=Org,C=US":        "duke",
		"CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US": "duke@sme",
		"cn=duke,ou=sme,dc=mycp,dc=com":             "DUKE@SME",
		"cN=Duke,OU=JavaSoft,O=Sun Microsystems":    "DUKE",
		"OU=JavaSoft,O=Sun Microsystems,C=US":       "OU=JavaSoft,O=Sun Microsystems,C=US",
	} {
		got, err := m.Name(dn)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", dn, got, err, want)
		}
	}
}

func TestPrincipalMapperCommaWithWhitespace(t *testing.T) {
	m, err := ParsePrincipalMappingRules(`RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Name(`CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz`); err != nil || got != `Tkac\, Adam` {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestPrincipalMapperSplitting(t *testing.T) {
	for rules, want := range map[string]int{
		"":                        1, // DEFAULT
		",   , , ,      , , ,   ": 0,
		",,RULE://,,,DEFAULT,,":   2,
		"  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  ": 3,
	} {
		m, err := ParsePrincipalMappingRules(rules)
		if err != nil {
			t.Fatalf("%q: %v", rules, err)
		}
		if len(m.rules) != want {
			t.Errorf("%q: %d rules, want %d", rules, len(m.rules), want)
		}
	}
}

func TestPrincipalMapperNoRule(t *testing.T) {
	m, err := ParsePrincipalMappingRules("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Name("CN=x,OU=Other"); !errors.Is(err, ErrNoMappingRule) {
		t.Fatalf("err %v, want ErrNoMappingRule", err)
	}
}

// TestSubjectRFC2253 checks the subject string rules see, Kafka's form:
// last RDN first, Java's keywords, escapes, #hex for other attributes.
func TestSubjectRFC2253(t *testing.T) {
	ca, err := certs.NewCA("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	email := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	for _, tc := range []struct {
		subject pkix.Name
		want    string
	}{
		{pkix.Name{CommonName: "client", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}}, "CN=client,OU=eng,O=acme"},
		{pkix.Name{CommonName: "Tkac, Adam", Country: []string{"CZ"}}, `CN=Tkac\, Adam,C=CZ`},
		{pkix.Name{CommonName: " lead#", Locality: []string{"x+y"}}, `CN=\ lead#,L=x\+y`},
		{pkix.Name{CommonName: "mail", ExtraNames: []pkix.AttributeTypeAndValue{{Type: email, Value: "a@b"}}}, "1.2.840.113549.1.9.1=#0c03614062,CN=mail"}, // Go writes it as a UTF8String,
	} {
		p, err := ca.Issue(certs.Options{Subject: tc.subject, Client: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := SubjectRFC2253(p.Cert)
		if err != nil || got != tc.want {
			t.Errorf("%v: got %q, %v; want %q", tc.subject, got, err, tc.want)
		}
	}
}
