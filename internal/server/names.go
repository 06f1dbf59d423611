package server

import "fmt"

// maxTopicNameLen is Kafka's limit (249, leaving room for the partition
// suffix in directory names under 255 bytes).
const maxTopicNameLen = 249

// validateTopicName applies Kafka's rules: 1-249 characters of [a-zA-Z0-9._-],
// and not "." or "..".
func validateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: topic name is empty", errInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: topic name cannot be %q", errInvalidTopic, name)
	case len(name) > maxTopicNameLen:
		return fmt.Errorf("%w: topic name is %d characters, the limit is %d", errInvalidTopic, len(name), maxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("%w: topic name %q has the illegal character %q (allowed: ASCII letters, digits, '.', '_', '-')", errInvalidTopic, name, c)
	}
	return nil
}
