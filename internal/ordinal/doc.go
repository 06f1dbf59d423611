// Package ordinal derives a broker's node id from its hostname, for
// `--node-id ordinal` (STROM_NODE_ID=ordinal).
//
// A Kubernetes StatefulSet names its pods <set>-<ordinal> (strom-0, strom-1,
// ...) and sets each pod's hostname to that name. The ordinal is stable for
// the pod's whole life, follows the pod's PersistentVolumeClaim across
// reschedules, and is unique within the set — exactly the properties a Strom
// node id needs (Raft server ids, partition replica lists and the data on
// disk all refer to it). Deriving the id from the hostname lets every pod run
// the same manifest.
//
// The package is stdlib-only and is shared by cmd/strom (the flag) and the
// deploy/k8s manifest test, so the mapping the test checks is the one the
// broker uses.
package ordinal
