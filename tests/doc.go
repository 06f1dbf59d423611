// Package tests holds Strom's black-box end-to-end tests: each test builds
// nothing itself but runs the real `strom` binary (built once in TestMain) as
// a separate process on ephemeral ports, then drives it with unmodified
// Kafka clients — franz-go, sarama, segmentio/kafka-go in-process, and
// kafka-python, confluent-kafka-python and kcat as external programs.
//
// Why a separate process: it is the only way to prove what a user sees. A
// client talks to the broker over a real socket; a SIGKILL leaves the data
// directory exactly as a crash would (nothing flushed, no Close), and the
// restarted broker has to recover from disk alone.
//
// Test names say what they cover so CI can select them with -run:
//
//	TestInterop<Client><What>  a standard client used exactly as its docs show
//	TestBadInput...            hostile bytes on the socket
//	TestCrash...               SIGKILL during acks=all production, then verify
//	TestInteropCluster...      standard clients against a 3-broker cluster, leader killed
//	TestChaos...               3 broker processes, random SIGKILLs under load (make chaos);
//	                           STROM_CHAOS_DURATION, STROM_CHAOS_SEED and STROM_FAILOVER_KILLS
//	                           make them run longer by hand; TestChaosFailoverTiming times
//	                           franz-go and librdkafka, STROM_FAILOVER_SETTLE before each kill
//
// The chaos workload and its end-of-run checks (acknowledged records exactly
// once, at their offsets, in order; byte-identical replicas) are
// internal/chaoscheck, shared with the Docker chaos test in tests/compose.
//
// Tests that need an external client (kcat, /usr/bin/python3 with kafka or
// confluent_kafka) are skipped with a message when it is missing, except under
// CI=true where a missing client is a failure. The Go-client tests never skip.
//
// The scripts in tests/python are run with /usr/bin/python3 because Debian's
// python3-kafka and python3-confluent-kafka are installed for that
// interpreter only.
package tests
