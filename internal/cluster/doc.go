// Package cluster is an in-process test harness for multi-broker Strom
// clusters: N real brokers (internal/server) on loopback ephemeral ports,
// each with its own data directory, gossip, Raft and Kafka listener, that a
// test can stop, restart, partition and drive with franz-go clients.
//
// All broker-to-broker traffic (Raft, forwarded controller writes, follower
// fetches, gossip) runs over one internal/netfault network per cluster, so
// Partition, Isolate and Heal cut and restore links between brokers without
// Docker or root. Clients from Client are not on that network (they stand
// for external clients); ClientAt puts one on it as a pseudo node.
//
// Cluster behaviour tests (replication, ISR, failover, partitions) live
// beside it and are named TestCluster… so CI can select them with -run.
package cluster
