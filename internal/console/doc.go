// Package console is Strom's built-in web console: server-rendered HTML pages
// (html/template, a little vanilla CSS and JS embedded with embed, no build
// step) that show the cluster's brokers, topics, consumer groups and records,
// draw a live throughput chart, and, only when enabled, produce a test
// record.
//
// # Where its data comes from
//
// The console is a Kafka client of the broker that serves it: it holds one
// franz-go client whose seed is the broker's own listener and reads
// everything through the Kafka protocol (Metadata, DescribeCluster v2 for
// fenced brokers, DescribeQuorum for Raft roles, ListOffsets, DescribeConfigs,
// DescribeGroups/OffsetFetch for lag, Fetch for the message browser, Produce
// for the test message). It imports nothing from the server. Two reasons:
// the pages show exactly what any client would see (no second code path that
// could disagree with the handlers), and security is the broker's own: when
// the listener wants SASL or TLS and an authorizer is on, the console
// authenticates with the client options it is given (cmd/strom builds them
// from console.client.config, a client properties file) and sees only what
// that principal may see.
//
// # Safety
//
// Read-only unless Config.WriteEnable: without it the produce page and its
// POST endpoint answer 404 and 403. Writes are POSTs that must carry the
// per-process CSRF token found in the form and, when the browser sends an
// Origin header, come from the console's own origin. Every value reaches the
// page through html/template, so hostile topic names, keys, values and
// headers are escaped; binary record contents are shown as hex. Work per
// request is bounded: at most Config.MaxRecords records per browse, and every
// request runs under Config.Timeout.
package console
