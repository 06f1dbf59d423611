package main

import (
	"fmt"
	"os"

	"github.com/strombroker/strom/internal/ordinal"
	"github.com/strombroker/strom/internal/server"
)

// ordinalNodeID is the --node-id value (STROM_NODE_ID, node.id) that takes the
// node id from the hostname's trailing -N, so every pod of a Kubernetes
// StatefulSet can share one manifest: pod strom-2 is node 2 (see
// deploy/k8s).
const ordinalNodeID = "ordinal"

// hostname is os.Hostname, a variable so tests can pose as a StatefulSet pod.
var hostname = os.Hostname

// setNodeIDFromHostname implements --node-id ordinal.
func setNodeIDFromHostname(c *server.Config) error {
	h, err := hostname()
	if err != nil {
		return fmt.Errorf("cannot read the hostname: %w", err)
	}
	id, err := ordinal.FromHostname(h)
	if err != nil {
		return err // names the hostname and the expected form; loadConfig adds the setting
	}
	c.NodeID = id
	return nil
}
