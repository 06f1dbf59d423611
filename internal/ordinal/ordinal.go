package ordinal

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sentinel errors, wrapped with the offending hostname; test with errors.Is.
var (
	// ErrNoOrdinal: the hostname does not end in -N, so it carries no
	// ordinal (it is not a StatefulSet pod name).
	ErrNoOrdinal = errors.New("ordinal: hostname has no trailing -N")
	// ErrOutOfRange: the trailing number does not fit a node id (int32).
	ErrOutOfRange = errors.New("ordinal: trailing number out of range for a node id")
)

// FromHostname returns the trailing ordinal of a StatefulSet pod hostname:
// "strom-2" → 2. Only the first DNS label is looked at, so a fully qualified
// name (pods with setHostnameAsFQDN, "strom-2.strom-headless.ns.svc...")
// gives the same id as the short one. The label must be <prefix>-<digits>
// with a non-empty prefix; anything else is ErrNoOrdinal, because guessing
// an id for a host that is not a StatefulSet pod could give two brokers the
// same one.
func FromHostname(hostname string) (int32, error) {
	label, _, _ := strings.Cut(strings.TrimSpace(hostname), ".")
	i := strings.LastIndexByte(label, '-')
	if i <= 0 || i == len(label)-1 {
		return 0, fmt.Errorf("%w: %q (StatefulSet pods are named <name>-<ordinal>, e.g. strom-2)", ErrNoOrdinal, hostname)
	}
	digits := label[i+1:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q (StatefulSet pods are named <name>-<ordinal>, e.g. strom-2)", ErrNoOrdinal, hostname)
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %q", ErrOutOfRange, hostname)
	}
	return int32(n), nil
}

// PodName is the name (and hostname) the StatefulSet set gives its pod with
// this ordinal: the inverse of FromHostname.
func PodName(set string, ordinal int) string {
	return set + "-" + strconv.Itoa(ordinal)
}
