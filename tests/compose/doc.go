// Package compose tests the Docker deployment end to end: the FROM-scratch
// image (deploy/Dockerfile) and the three-broker docker-compose.yml at the
// top of the repository. It builds the image with `make image` (unless
// STROM_COMPOSE_IMAGE_BUILT=1, as `make compose-test` sets), starts the
// cluster under its own compose project name (strom-test) on free host
// ports, and checks what a user would: all brokers healthy, a topic with
// replication factor 3, produce and consume from the host through the
// EXTERNAL listeners, and the image as a Kafka CLI inside the compose
// network through the INTERNAL ones. The cluster and its volumes are removed
// at the end.
//
// TestComposeChaos injects docker-level faults (kill, pause, a network
// partition, a rolling restart) into the same cluster under the chaos
// workload of internal/chaoscheck, and checks the log with it afterwards.
//
// TestSecureComposeCluster starts docker-compose.secure.yml (project
// strom-secure-test) with a random cluster key and admin password: SASL_SSL
// from the host with franz-go and kcat, a wrong password, a plaintext
// client, a new user denied until an ACL allows it, and the INTERNAL
// listener refusing a client without a certificate.
//
// Without a usable Docker engine and compose the test is skipped with a
// message; under CI=true it fails instead.
package compose
