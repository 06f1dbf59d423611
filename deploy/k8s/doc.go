// Package k8s holds Strom's Kubernetes manifest (strom.yaml) and the test
// that checks its wiring: the StatefulSet, its headless Service, the client
// Service and the PodDisruptionBudget agree on names, labels and ports; each
// pod's node id, advertised Kafka and Raft addresses are distinct,
// well-formed names under the headless Service; the data volume, probes and
// security context match the broker image (deploy/Dockerfile).
//
// The test parses the manifest with a small YAML-subset reader of its own
// (yaml_test.go): the module has no YAML library as a direct dependency, and
// adding one would mean editing go.mod. The reader understands block
// mappings and sequences, plain and quoted scalars and one-line flow
// sequences, which is all strom.yaml uses, and rejects anything else
// (anchors, block scalars, flow mappings, tabs) instead of misreading it.
// There is no Go code here besides the test.
package k8s
