package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/strombroker/strom/wire"
)

// TLSSettings are Kafka's ssl.* settings for a listener, as written in
// server.properties (parsed and checked by Validate, loaded at Start). Only
// PEM keystores and truststores are read.
type TLSSettings struct {
	KeystoreType             string // ssl.keystore.type: PEM ("" means PEM)
	KeystoreLocation         string // ssl.keystore.location: PEM file, private key then certificate chain
	KeyPassword              string // ssl.key.password: refused with an encrypted key (not supported)
	KeystoreCertificateChain string // ssl.keystore.certificate.chain: PEM string
	KeystoreKey              string // ssl.keystore.key: PEM string
	TruststoreType           string // ssl.truststore.type: PEM ("" means PEM)
	TruststoreLocation       string // ssl.truststore.location: PEM file of CA certificates
	TruststoreCertificates   string // ssl.truststore.certificates: PEM string
	ClientAuth               string // ssl.client.auth: none (""), requested, required
	PrincipalMappingRules    string // ssl.principal.mapping.rules ("" means DEFAULT)
	EnabledProtocols         string // ssl.enabled.protocols: TLSv1.2,TLSv1.3 ("" means both)
	Protocol                 string // ssl.protocol: TLSv1.3 (""), TLSv1.2 or TLS
	CipherSuites             string // ssl.cipher.suites: IANA names for TLS 1.2 ("" means Go's defaults)
	// EndpointIdentification is ssl.endpoint.identification.algorithm,
	// which only the follower's client side uses: "" (not set) or "https"
	// verify that the leader's certificate names the address dialled;
	// Kafka's empty value, stored as "none", verifies the chain only.
	EndpointIdentification string
}

// sslKeys maps each ssl.* property to its TLSSettings field: the one table
// behind Set, the per-listener overrides and cmd/strom's settings.
var sslKeys = map[string]func(*TLSSettings) *string{
	"ssl.keystore.type":                     func(s *TLSSettings) *string { return &s.KeystoreType },
	"ssl.keystore.location":                 func(s *TLSSettings) *string { return &s.KeystoreLocation },
	"ssl.key.password":                      func(s *TLSSettings) *string { return &s.KeyPassword },
	"ssl.keystore.certificate.chain":        func(s *TLSSettings) *string { return &s.KeystoreCertificateChain },
	"ssl.keystore.key":                      func(s *TLSSettings) *string { return &s.KeystoreKey },
	"ssl.truststore.type":                   func(s *TLSSettings) *string { return &s.TruststoreType },
	"ssl.truststore.location":               func(s *TLSSettings) *string { return &s.TruststoreLocation },
	"ssl.truststore.certificates":           func(s *TLSSettings) *string { return &s.TruststoreCertificates },
	"ssl.client.auth":                       func(s *TLSSettings) *string { return &s.ClientAuth },
	"ssl.principal.mapping.rules":           func(s *TLSSettings) *string { return &s.PrincipalMappingRules },
	"ssl.enabled.protocols":                 func(s *TLSSettings) *string { return &s.EnabledProtocols },
	"ssl.protocol":                          func(s *TLSSettings) *string { return &s.Protocol },
	"ssl.cipher.suites":                     func(s *TLSSettings) *string { return &s.CipherSuites },
	"ssl.endpoint.identification.algorithm": func(s *TLSSettings) *string { return &s.EndpointIdentification },
}

// SSLKeys lists the ssl.* properties TLSSettings.Set knows, sorted.
func SSLKeys() []string {
	keys := make([]string, 0, len(sslKeys))
	for k := range sslKeys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Set sets the ssl.* property key; false when TLSSettings has no such key.
// Values are checked by Validate, so a setting's source (file, env, flag)
// does not matter.
func (s *TLSSettings) Set(key, value string) bool {
	f, ok := sslKeys[key]
	if ok {
		*f(s) = strings.TrimSpace(value)
	}
	if key == "ssl.endpoint.identification.algorithm" && strings.TrimSpace(value) == "" {
		s.EndpointIdentification = "none" // Kafka's way of turning it off
	}
	return ok
}

// SetListenerSSL records a listener.name.<name>.ssl.* property: the
// setting for that listener only, over the broker-wide ssl.* one (Kafka's
// per-listener override). It reports whether key is such a property; its
// value is checked by Validate.
func (c *Config) SetListenerSSL(key, value string) bool {
	rest, ok := strings.CutPrefix(key, "listener.name.")
	if !ok {
		return false
	}
	name, sslKey, ok := strings.Cut(rest, ".")
	if _, known := sslKeys[sslKey]; !ok || !known || name == "" {
		return false
	}
	if c.ListenerSSL == nil {
		c.ListenerSSL = map[string]map[string]string{}
	}
	name = strings.ToUpper(name)
	if c.ListenerSSL[name] == nil {
		c.ListenerSSL[name] = map[string]string{}
	}
	c.ListenerSSL[name][sslKey] = value
	return true
}

// ListenerTLS is the ssl.* settings of the listener called name: the
// broker-wide ones with that listener's overrides applied.
func (c *Config) ListenerTLS(name string) TLSSettings {
	s := c.SSL
	for k, v := range c.ListenerSSL[name] {
		s.Set(k, v)
	}
	return s
}

// usesTLS reports whether a listener of this security protocol speaks TLS.
func usesTLS(protocol string) bool {
	return protocol == wire.ProtocolSSL || protocol == wire.ProtocolSASLSSL
}

// validateTLS checks the ssl.* settings of every SSL and SASL_SSL listener
// (a TLS listener without a keystore cannot start) and that overrides name
// listeners that exist.
func (c *Config) validateTLS() []error {
	var errs []error
	names := map[string]bool{}
	for _, l := range c.Listeners {
		names[l.Name] = true
		if !usesTLS(c.SecurityProtocol(l.Name)) {
			continue
		}
		if err := c.ListenerTLS(l.Name).validate(l.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.validateRaftTLS(); err != nil {
		errs = append(errs, err)
	}
	for name := range c.ListenerSSL {
		if !names[name] && name != raftTLSName {
			errs = append(errs, fmt.Errorf("listener.name.%s.ssl.*: no listener %s in listeners (%s)", strings.ToLower(name), name, FormatListeners(c.Listeners)))
		}
	}
	return errs
}

// validate checks the settings of the TLS listener called listener.
func (s TLSSettings) validate(listener string) error {
	var errs []error
	prefix := "listener " + listener + ": "
	if !isPEMType(s.KeystoreType) {
		errs = append(errs, fmt.Errorf("%sssl.keystore.type=%s is not supported: Strom reads PEM keystores only (set ssl.keystore.type=PEM and convert the keystore, e.g. openssl pkcs12 -in keystore.p12 -nodes)", prefix, s.KeystoreType))
	}
	if !isPEMType(s.TruststoreType) {
		errs = append(errs, fmt.Errorf("%sssl.truststore.type=%s is not supported: Strom reads PEM truststores only (set ssl.truststore.type=PEM)", prefix, s.TruststoreType))
	}
	hasFile, hasStrings := s.KeystoreLocation != "", s.KeystoreCertificateChain != "" || s.KeystoreKey != ""
	switch {
	case !hasFile && !hasStrings:
		errs = append(errs, fmt.Errorf("%sthe %s listener needs a keystore: set ssl.keystore.location (a PEM file with the private key and certificate chain) or ssl.keystore.certificate.chain and ssl.keystore.key (listener.name.%s.ssl.* for this listener only)", prefix, listener, strings.ToLower(listener)))
	case hasFile && hasStrings:
		errs = append(errs, fmt.Errorf("%sset either ssl.keystore.location or ssl.keystore.certificate.chain with ssl.keystore.key, not both", prefix))
	case hasStrings && (s.KeystoreCertificateChain == "" || s.KeystoreKey == ""):
		errs = append(errs, fmt.Errorf("%sssl.keystore.certificate.chain and ssl.keystore.key go together", prefix))
	}
	if s.TruststoreLocation != "" && s.TruststoreCertificates != "" {
		errs = append(errs, fmt.Errorf("%sset either ssl.truststore.location or ssl.truststore.certificates, not both", prefix))
	}
	auth, err := s.clientAuth()
	if err != nil {
		errs = append(errs, fmt.Errorf("%s%w", prefix, err))
	} else if auth != tls.NoClientCert && s.TruststoreLocation == "" && s.TruststoreCertificates == "" {
		errs = append(errs, fmt.Errorf("%sssl.client.auth=%s needs the CAs to verify clients with: set ssl.truststore.location or ssl.truststore.certificates", prefix, s.ClientAuth))
	}
	if _, err := ParsePrincipalMappingRules(s.PrincipalMappingRules); err != nil {
		errs = append(errs, fmt.Errorf("%s%w", prefix, err))
	}
	if _, _, err := s.versions(); err != nil {
		errs = append(errs, fmt.Errorf("%s%w", prefix, err))
	}
	if _, err := s.cipherSuites(); err != nil {
		errs = append(errs, fmt.Errorf("%s%w", prefix, err))
	}
	switch strings.ToLower(s.EndpointIdentification) {
	case "", "https", "none":
	default:
		errs = append(errs, fmt.Errorf("%sssl.endpoint.identification.algorithm=%s: want https or empty", prefix, s.EndpointIdentification))
	}
	return errors.Join(errs...)
}

func isPEMType(t string) bool { return t == "" || strings.EqualFold(t, "PEM") }

// clientAuth maps ssl.client.auth to Go's: requested verifies a certificate
// if one is given (Java's wantClientAuth), required demands one.
func (s TLSSettings) clientAuth() (tls.ClientAuthType, error) {
	switch strings.ToLower(s.ClientAuth) {
	case "", "none":
		return tls.NoClientCert, nil
	case "requested":
		return tls.VerifyClientCertIfGiven, nil
	case "required":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fmt.Errorf("ssl.client.auth=%s: want none, requested or required", s.ClientAuth)
}

// tlsVersions are the protocol names Kafka uses that Go speaks.
var tlsVersions = map[string]uint16{"TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

// versions is the lowest and highest TLS version from ssl.enabled.protocols,
// capped at TLS 1.2 by ssl.protocol=TLSv1.2.
func (s TLSSettings) versions() (lo, hi uint16, err error) {
	enabled := s.EnabledProtocols
	if enabled == "" {
		enabled = "TLSv1.2,TLSv1.3"
	}
	for _, p := range strings.Split(enabled, ",") {
		p = strings.TrimSpace(p)
		v, ok := tlsVersions[p]
		if !ok {
			return 0, 0, fmt.Errorf("ssl.enabled.protocols: %q is not supported (TLSv1.2 and TLSv1.3 are)", p)
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	switch s.Protocol {
	case "", "TLS", "TLSv1.3":
	case "TLSv1.2":
		hi = min(hi, tls.VersionTLS12)
		if lo > hi {
			return 0, 0, errors.New("ssl.protocol=TLSv1.2 leaves none of ssl.enabled.protocols")
		}
	default:
		return 0, 0, fmt.Errorf("ssl.protocol=%s: want TLSv1.3, TLSv1.2 or TLS", s.Protocol)
	}
	return lo, hi, nil
}

// cipherSuites maps ssl.cipher.suites to Go's ids. TLS 1.3 suites are
// accepted and skipped: Go always offers all three.
func (s TLSSettings) cipherSuites() ([]uint16, error) {
	if s.CipherSuites == "" {
		return nil, nil
	}
	byName := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		byName[cs.Name] = cs.ID
	}
	var ids []uint16
	for _, name := range strings.Split(s.CipherSuites, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256":
			continue
		}
		id, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("ssl.cipher.suites: %q is not a supported secure cipher suite", name)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
