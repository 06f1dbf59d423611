package server

import "github.com/strombroker/strom/raftmeta"

// validateTopicName applies Kafka's rules (raftmeta.ValidateTopicName, which
// the controller also enforces on every command it applies): 1-249
// characters of [a-zA-Z0-9._-], and not "." or "..".
func validateTopicName(name string) error { return raftmeta.ValidateTopicName(name) }
