// Package cluster is an in-process test harness for multi-broker Strom
// clusters: N real brokers (internal/server) on loopback ephemeral ports,
// each with its own data directory, gossip, Raft and Kafka listener, that a
// test can stop, restart and drive with franz-go clients. Cluster behaviour
// tests (replication, ISR, failover) live beside it and are named
// TestCluster… so CI can select them with -run.
package cluster
