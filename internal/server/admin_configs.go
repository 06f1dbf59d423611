package server

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// configEntry is one config as DescribeConfigs and CreateTopics v5+ report it.
type configEntry struct {
	name     string
	value    string
	source   kmsg.ConfigSource
	readOnly bool
	typ      configType
	doc      string
	// synonyms lists where the value could come from, highest precedence
	// first; the first one is the entry itself (Kafka's order).
	synonyms []configSynonym
}

type configSynonym struct {
	name   string
	value  string
	source kmsg.ConfigSource
}

// staticOrDefault labels a broker-level value: STATIC_BROKER_CONFIG when it
// differs from what `strom broker` runs with when given no settings,
// DEFAULT_CONFIG otherwise. Config does not record which settings were given
// explicitly, so a setting given with its default value reads as default.
func staticOrDefault(cur, def string) kmsg.ConfigSource {
	if cur != def {
		return kmsg.ConfigSourceStaticBrokerConfig
	}
	return kmsg.ConfigSourceDefaultConfig
}

// topicConfigEntries describes every supported topic config for a topic
// whose explicitly set configs are set: the topic's own value if it has one,
// else the broker's.
func (s *Server) topicConfigEntries(set map[string]string) []configEntry {
	defaults := DefaultConfig()
	out := make([]configEntry, 0, len(topicConfigs))
	for i := range topicConfigs {
		c := &topicConfigs[i]
		brokerVal, defVal := c.def(&s.cfg), c.def(&defaults)
		synName := c.brokerName
		if synName == "" {
			synName = c.name
		}
		var syn []configSynonym
		if v, ok := set[c.name]; ok {
			syn = append(syn, configSynonym{c.name, v, kmsg.ConfigSourceDynamicTopicConfig})
		}
		if brokerVal != defVal {
			syn = append(syn, configSynonym{synName, brokerVal, kmsg.ConfigSourceStaticBrokerConfig})
		}
		syn = append(syn, configSynonym{synName, defVal, kmsg.ConfigSourceDefaultConfig})
		out = append(out, configEntry{
			name:     c.name,
			value:    syn[0].value,
			source:   syn[0].source,
			typ:      c.typ,
			doc:      c.doc,
			synonyms: syn,
		})
	}
	return out
}

// brokerSetting is one broker-level setting DescribeConfigs reports.
type brokerSetting struct {
	name string
	typ  configType
	doc  string
	// value renders the setting from a Config; comparing the running
	// config with DefaultConfig() tells static from default.
	value func(c *Config) string
	// shown, if set, is what is reported instead of value(&s.cfg): the
	// effective value after start-up resolved it (advertised listeners).
	shown func(s *Server) string
}

func msString(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// brokerSettings are the broker's own settings; the broker synonyms of the
// topic configs are added from topicConfigs by brokerConfigEntries.
var brokerSettings = []brokerSetting{
	{name: "node.id", typ: typeInt, doc: "This broker's id, unique in the cluster.",
		value: func(c *Config) string { return strconv.Itoa(int(c.NodeID)) }},
	{name: "broker.id", typ: typeInt, doc: "Same as node.id (the pre-KRaft name).",
		value: func(c *Config) string { return strconv.Itoa(int(c.NodeID)) }},
	{name: "listeners", typ: typeList, doc: "Where the broker listens for Kafka clients, NAME://host:port.",
		value: func(c *Config) string { return FormatListeners(c.Listeners) }},
	{name: "advertised.listeners", typ: typeList, doc: "The addresses clients are told to connect to, per listener.",
		value: func(c *Config) string { return FormatListeners(c.AdvertisedListeners) },
		shown: func(s *Server) string { return FormatListeners(s.adv) }},
	{name: "log.dirs", typ: typeString, doc: "Directory holding partition logs and metadata.",
		value: func(c *Config) string { return c.DataDir }},
	{name: "raft.addr", typ: typeString, doc: "Address of the metadata Raft transport.",
		value: func(c *Config) string { return c.RaftAddr }},
	{name: "gossip.addr", typ: typeString, doc: "Address of the membership gossip.",
		value: func(c *Config) string { return c.GossipAddr }},
	{name: "broker.rack", typ: typeString, doc: "Rack of this broker, reported to clients.",
		value: func(c *Config) string { return c.Rack }},
	{name: "num.partitions", typ: typeInt, doc: "Partitions of auto-created topics and of CreateTopics with -1.",
		value: func(c *Config) string { return strconv.Itoa(int(c.NumPartitions)) }},
	{name: "default.replication.factor", typ: typeShort, doc: "Replication factor of auto-created topics and of CreateTopics with -1.",
		value: func(c *Config) string { return strconv.Itoa(int(c.DefaultReplicationFactor)) }},
	{name: "auto.create.topics.enable", typ: typeBoolean, doc: "Create unknown topics on Metadata requests that allow it.",
		value: func(c *Config) string { return strconv.FormatBool(c.AutoCreateTopics) }},
	{name: "delete.topic.enable", typ: typeBoolean, doc: "Topic deletion is always enabled.",
		value: func(*Config) string { return "true" }},
	{name: "log.fsync", typ: typeString, doc: "When to fsync: always (before acknowledging), interval, or never.",
		value: func(c *Config) string { return string(c.Log.Fsync) }},
	{name: "log.flush.interval.ms", typ: typeLong, doc: "fsync period with log.fsync=interval.",
		value: func(c *Config) string { return msString(c.Log.FlushInterval) }},
	{name: "log.retention.check.interval.ms", typ: typeLong, doc: "How often retention runs.",
		value: func(c *Config) string { return msString(c.RetentionCheckInterval) }},
	{name: "socket.request.max.bytes", typ: typeInt, doc: "Largest request accepted.",
		value: func(c *Config) string { return strconv.Itoa(int(c.SocketRequestMaxBytes)) }},
	{name: "offsets.topic.num.partitions", typ: typeInt, doc: "Partitions of __consumer_offsets.",
		value: func(c *Config) string { return strconv.Itoa(int(c.OffsetsTopicPartitions)) }},
	{name: "offsets.topic.replication.factor", typ: typeShort, doc: "Replication factor of __consumer_offsets (capped at the brokers present when it is created).",
		value: func(c *Config) string { return strconv.Itoa(int(c.OffsetsTopicReplicationFactor)) }},
	{name: "transaction.state.log.num.partitions", typ: typeInt, doc: "Partitions of __transaction_state.",
		value: func(c *Config) string { return strconv.Itoa(int(c.TransactionStateLogPartitions)) }},
	{name: "transaction.state.log.replication.factor", typ: typeShort, doc: "Replication factor of __transaction_state (capped at the brokers present when it is created).",
		value: func(c *Config) string { return strconv.Itoa(int(c.TransactionStateLogReplicationFactor)) }},
	{name: "transaction.state.log.min.isr", typ: typeInt, doc: "min.insync.replicas of __transaction_state.",
		value: func(c *Config) string { return strconv.Itoa(int(c.TransactionStateLogMinISR)) }},
	{name: "transaction.max.timeout.ms", typ: typeInt, doc: "Largest transaction timeout a producer may ask for.",
		value: func(c *Config) string { return msString(c.TransactionMaxTimeout) }},
	{name: "transactional.id.expiration.ms", typ: typeInt, doc: "An idle transactional id is forgotten after this long.",
		value: func(c *Config) string { return msString(c.TransactionalIDExpiration) }},
	{name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", typ: typeInt, doc: "How often transactions past their timeout are aborted.",
		value: func(c *Config) string { return msString(c.TransactionAbortInterval) }},
	{name: "group.initial.rebalance.delay.ms", typ: typeInt, doc: "How long a new group waits for more members before its first rebalance.",
		value: func(c *Config) string { return msString(c.GroupInitialRebalanceDelay) }},
	{name: "group.min.session.timeout.ms", typ: typeInt, doc: "Smallest session timeout a consumer may ask for.",
		value: func(c *Config) string { return msString(c.GroupMinSessionTimeout) }},
	{name: "group.max.session.timeout.ms", typ: typeInt, doc: "Largest session timeout a consumer may ask for.",
		value: func(c *Config) string { return msString(c.GroupMaxSessionTimeout) }},
	{name: "group.share.record.lock.duration.ms", typ: typeInt, doc: "How long a record acquired by a share consumer stays locked to it.",
		value: func(c *Config) string { return msString(c.ShareRecordLockDuration) }},
	{name: "group.share.delivery.count.limit", typ: typeInt, doc: "Deliveries of a record to share consumers before it is archived.",
		value: func(c *Config) string { return strconv.Itoa(int(c.ShareDeliveryCountLimit)) }},
	{name: "group.share.partition.max.record.locks", typ: typeInt, doc: "Most records in flight per share-partition.",
		value: func(c *Config) string { return strconv.Itoa(c.SharePartitionMaxRecordLocks) }},
	{name: "group.share.heartbeat.interval.ms", typ: typeInt, doc: "Heartbeat interval given to share group members.",
		value: func(c *Config) string { return msString(c.ShareHeartbeatInterval) }},
	{name: "group.share.session.timeout.ms", typ: typeInt, doc: "A share group member silent this long is removed.",
		value: func(c *Config) string { return msString(c.ShareSessionTimeout) }},
	{name: "group.share.max.size", typ: typeInt, doc: "Most members in one share group.",
		value: func(c *Config) string { return strconv.Itoa(c.ShareGroupMaxSize) }},
	{name: "share.coordinator.state.topic.num.partitions", typ: typeInt, doc: "Partitions of __share_group_state.",
		value: func(c *Config) string { return strconv.Itoa(int(c.ShareStateTopicPartitions)) }},
	{name: "share.coordinator.state.topic.replication.factor", typ: typeShort, doc: "Replication factor of __share_group_state (capped at the brokers present when it is created).",
		value: func(c *Config) string { return strconv.Itoa(int(c.ShareStateTopicReplicationFactor)) }},
	{name: "share.coordinator.state.topic.min.isr", typ: typeShort, doc: "min.insync.replicas of __share_group_state.",
		value: func(c *Config) string { return strconv.Itoa(int(c.ShareStateTopicMinISR)) }},
}

// brokerConfigEntries describes this broker's settings. All are read-only:
// Strom has no dynamic broker configs.
func (s *Server) brokerConfigEntries() []configEntry {
	defaults := DefaultConfig()
	var out []configEntry
	add := func(name string, typ configType, doc, cur, def string) {
		src := staticOrDefault(cur, def)
		out = append(out, configEntry{
			name: name, value: cur, source: src, readOnly: true, typ: typ, doc: doc,
			synonyms: []configSynonym{{name, cur, src}},
		})
	}
	for _, b := range slices.Concat(brokerSettings, cleanerBrokerSettings) {
		cur := b.value(&s.cfg)
		src := staticOrDefault(cur, b.value(&defaults))
		if b.shown != nil {
			cur = b.shown(s)
		}
		out = append(out, configEntry{
			name: b.name, value: cur, source: src, readOnly: true, typ: b.typ, doc: b.doc,
			synonyms: []configSynonym{{b.name, cur, src}},
		})
	}
	seen := make(map[string]bool, len(out))
	for _, e := range out {
		seen[e.name] = true
	}
	for i := range topicConfigs {
		c := &topicConfigs[i]
		if c.brokerName == "" || seen[c.brokerName] {
			continue
		}
		seen[c.brokerName] = true
		add(c.brokerName, c.typ, "Broker default of topic config "+c.name+". "+c.doc, c.def(&s.cfg), c.def(&defaults))
	}
	return out
}

// wantConfig reports whether a DescribeConfigs resource asked for name: a
// null or empty ConfigNames list means every config.
func wantConfig(names []string, name string) bool {
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// describeEntries renders entries for a DescribeConfigs response.
func describeEntries(entries []configEntry, names []string, synonyms, docs bool) []kmsg.DescribeConfigsResponseResourceConfig {
	out := make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
	for _, e := range entries {
		if !wantConfig(names, e.name) {
			continue
		}
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name = e.name
		rc.Value = kmsg.StringPtr(e.value)
		rc.ReadOnly = e.readOnly
		rc.IsDefault = e.source == kmsg.ConfigSourceDefaultConfig
		rc.Source = e.source
		rc.ConfigType = kmsg.ConfigType(e.typ)
		if docs {
			rc.Documentation = kmsg.StringPtr(e.doc)
		}
		if synonyms {
			for _, syn := range e.synonyms {
				rs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				rs.Name = syn.name
				rs.Value = kmsg.StringPtr(syn.value)
				rs.Source = syn.source
				rc.ConfigSynonyms = append(rc.ConfigSynonyms, rs)
			}
		}
		out = append(out, rc)
	}
	return out
}

// splitList splits a list config value ("a,b") into its items.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
