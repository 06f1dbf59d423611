// Package cli implements the Kafka-client subcommands of the strom binary:
// topic, produce, consume, group, bench, cluster and health.
//
// Every subcommand talks the plain Kafka protocol through franz-go (kgo for
// producing and consuming, kadm for administration), never through Strom
// internals, so the same commands work against any Kafka-compatible cluster.
// That is deliberate: the tool doubles as a conformance smoke test, and the
// bench subcommand measures Strom and franz-go's kfake (see "bench kfake")
// with exactly the same client code, so the numbers compare brokers and not
// clients.
//
// The package imports nothing else internal. cmd/strom dispatches to Main with
// the subcommand name as args[0]; Main returns the process exit code:
//
//	0  success
//	1  the operation failed (the broker refused, a record was not delivered,
//	   the broker could not be reached, ...)
//	2  the command line was wrong (unknown subcommand, bad flag, missing
//	   argument)
//
// Errors are written to stderr as one line that names the cause and, where
// there is one, the fix ("topic foo does not exist — create it with
// `strom topic create foo`"). Output for people is aligned with
// text/tabwriter; --json switches every subcommand to machine output (one JSON
// document, or one JSON object per line for consume).
//
// Flags use the standard library flag package with one FlagSet per
// subcommand. Flags may appear before or after positional arguments
// ("topic create foo --partitions 3"); "--" ends flag parsing.
package cli
