package server

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/strombroker/strom/wire"
)

// ErrNoMappingRule is a certificate subject that no
// ssl.principal.mapping.rules rule applies to; Kafka refuses such a client.
var ErrNoMappingRule = errors.New("server: no ssl.principal.mapping.rules rule applies")

// Kafka's own rule grammar (SslPrincipalMapper), kept as its regular
// expressions so that splitting and validation match Kafka's, quirks included.
const sslRulePattern = `(DEFAULT)|RULE:((\\.|[^\\/])*)/((\\.|[^\\/])*)/([LU]?).*?|(.*?)`

var (
	sslRuleSplitter = regexp.MustCompile(`\s*(` + sslRulePattern + `)\s*(,\s*|$)`)
	sslRuleParser   = regexp.MustCompile(`^(?:` + sslRulePattern + `)`)
)

// sslRule is one parsed ssl.principal.mapping.rules entry.
type sslRule struct {
	isDefault bool
	pattern   *regexp.Regexp
	full      *regexp.Regexp // pattern anchored at both ends (Java's matches)
	template  string         // the replacement in Go's Expand syntax
	lower     bool
	upper     bool
}

// PrincipalMapper maps a client certificate's subject, in RFC 2253 form, to a
// principal name by Kafka's ssl.principal.mapping.rules: the first rule
// whose pattern matches the whole subject gives the name; DEFAULT gives the
// subject itself. Safe for concurrent use.
type PrincipalMapper struct {
	rules []sslRule
}

// ParsePrincipalMappingRules parses ssl.principal.mapping.rules: comma
// separated `RULE:pattern/replacement/` entries, each optionally followed
// by L or U (lower- or upper-case the result), and DEFAULT. Empty entries
// are ignored; "" means DEFAULT, Kafka's default. Patterns are Go regular
// expressions (RE2), which agree with Java's for the usual rules.
func ParsePrincipalMappingRules(s string) (*PrincipalMapper, error) {
	if strings.TrimSpace(s) == "" {
		s = "DEFAULT"
	}
	m := &PrincipalMapper{}
	for _, sm := range sslRuleSplitter.FindAllStringSubmatch(strings.TrimSpace(s), -1) {
		rule, err := parseSSLRule(sm[1])
		if err != nil {
			return nil, err
		}
		if rule != nil {
			m.rules = append(m.rules, *rule)
		}
	}
	return m, nil
}

// parseSSLRule parses one split rule; nil for an empty one.
func parseSSLRule(s string) (*sslRule, error) {
	loc := sslRuleParser.FindStringSubmatchIndex(s)
	if loc == nil || loc[1] != len(s) {
		return nil, fmt.Errorf("ssl.principal.mapping.rules: invalid rule %q (want RULE:pattern/replacement/[LU] or DEFAULT)", s)
	}
	group := func(i int) (string, bool) {
		if loc[2*i] < 0 {
			return "", false
		}
		return s[loc[2*i]:loc[2*i+1]], true
	}
	if _, ok := group(1); ok {
		return &sslRule{isDefault: true}, nil
	}
	pat, ok := group(2)
	if !ok {
		return nil, nil // an empty entry
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("ssl.principal.mapping.rules: rule %q: %w", s, err)
	}
	full := regexp.MustCompile(`^(?:` + pat + `)$`)
	repl, _ := group(4)
	flag, _ := group(6)
	return &sslRule{pattern: re, full: full, template: javaReplacement(repl), lower: flag == "L", upper: flag == "U"}, nil
}

// javaReplacement turns a Java replacement string ($1 for a group, \x for
// a literal x) into Go's Expand template ($$ for a literal $, ${1}).
func javaReplacement(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		switch c := r[i]; {
		case c == '\\' && i+1 < len(r):
			i++
			if r[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(r[i])
			}
		case c == '$' && i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9':
			j := i + 1
			for j < len(r) && r[j] >= '0' && r[j] <= '9' {
				j++
			}
			b.WriteString("${" + r[i+1:j] + "}")
			i = j - 1
		case c == '$' && i+1 < len(r) && r[i+1] == '{':
			b.WriteByte('$') // ${name}: the same in Go
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Name maps a distinguished name (RFC 2253 form) to a principal name.
func (m *PrincipalMapper) Name(dn string) (string, error) {
	for _, r := range m.rules {
		if r.isDefault {
			return dn, nil
		}
		if !r.full.MatchString(dn) {
			continue
		}
		out := r.pattern.ReplaceAllString(dn, r.template)
		switch {
		case r.lower:
			out = strings.ToLower(out)
		case r.upper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("%w to %q", ErrNoMappingRule, dn)
}

// Principal maps a verified client certificate to User:<mapped subject>:
// the wire.Config.PrincipalFromCert of an SSL listener.
func (m *PrincipalMapper) Principal(cert *x509.Certificate) (wire.Principal, error) {
	dn, err := SubjectRFC2253(cert)
	if err != nil {
		return wire.Principal{}, err
	}
	name, err := m.Name(dn)
	if err != nil {
		return wire.Principal{}, err
	}
	return wire.Principal{Type: "User", Name: name}, nil
}

// rfc2253Keywords are the attribute names Java's X500Principal.getName()
// (RFC 2253 form, what Kafka's DEFAULT rule and its patterns see) writes;
// any other attribute is written as its dotted OID with a #hex value.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// rawATV and rawRDNSET decode a subject keeping each value's DER, which the
// #hex form needs (the asn1 package treats a type named ...SET as a SET).
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

type rawRDNSET []rawATV

// SubjectRFC2253 is cert's subject as Java's X500Principal.getName()
// writes it: the last RDN first, "," between RDNs, "+" inside a
// multi-valued one, e.g. "CN=client,OU=eng,O=acme".
func SubjectRFC2253(cert *x509.Certificate) (string, error) {
	var rdns []rawRDNSET
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return "", fmt.Errorf("server: certificate subject: malformed (%v)", err)
	}
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		avas := make([]string, len(rdns[i]))
		for j, atv := range rdns[i] {
			avas[j] = formatATV(atv)
		}
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ","), nil
}

// formatATV writes one attribute: KEYWORD=escaped string, or OID=#hex.
func formatATV(atv rawATV) string {
	oid := atv.Type.String()
	kw, known := rfc2253Keywords[oid]
	if known {
		if s, ok := asn1String(atv.Value); ok {
			return kw + "=" + escapeRFC2253(s)
		}
	} else {
		kw = oid
	}
	return kw + "=#" + hex.EncodeToString(atv.Value.FullBytes)
}

// asn1String decodes the directory string types.
func asn1String(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagNumericString:
		return string(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// escapeRFC2253 escapes a value as RFC 2253 (and Java) do: a backslash
// before , + " \ < > ; anywhere, before # or a space at the start, and
// before a space at the end.
func escapeRFC2253(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(",+\"<>;\\", c) >= 0,
			i == 0 && (c == '#' || c == ' '),
			i == len(s)-1 && c == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
