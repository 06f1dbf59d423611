package cli

import "github.com/twmb/franz-go/pkg/kgo"

// ClientOptsFromFile reads a client properties file (the format of
// --command-config: security.protocol, sasl.*, ssl.*) into franz-go
// options. The broker's web console uses it for console.client.config, so
// that it talks to a secured listener exactly as the CLI would.
func ClientOptsFromFile(path string) ([]kgo.Opt, error) { return commandConfigOpts(path) }
