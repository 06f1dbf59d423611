package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strombroker/strom/raftmeta"
)

// Series computed at scrape time by metricsCollector. Names follow
// jmx_exporter's Kafka rules (kafka_<domain>_<type>_<name>, lower case) and
// kafka_exporter (kafka_consumergroup_*); the README maps each to its JMX
// MBean.
var (
	descBrokerState = newDesc("kafka_server_kafkaserver_brokerstate", "Kafka BrokerState: 0 not running, 3 running, 7 shutting down.")

	descMessagesIn    = newDesc("kafka_server_brokertopicmetrics_messagesin_total", "Records appended by producers, by topic (BrokerTopicMetrics MessagesInPerSec).", "topic")
	descBytesIn       = newDesc("kafka_server_brokertopicmetrics_bytesin_total", "Record bytes appended by producers, by topic (BrokerTopicMetrics BytesInPerSec).", "topic")
	descBytesOut      = newDesc("kafka_server_brokertopicmetrics_bytesout_total", "Record bytes sent to consumers, by topic (BrokerTopicMetrics BytesOutPerSec).", "topic")
	descProduceReqs   = newDesc("kafka_server_brokertopicmetrics_totalproducerequests_total", "Partition appends, by topic (BrokerTopicMetrics TotalProduceRequestsPerSec).", "topic")
	descReplBytesIn   = newDesc("kafka_server_brokertopicmetrics_replicationbytesin_total", "Record bytes fetched from leaders by this broker's followers (BrokerTopicMetrics ReplicationBytesInPerSec).")
	descReassignIn    = newDesc("kafka_server_brokertopicmetrics_reassignmentbytesin_total", "Record bytes fetched by this broker's replicas that a reassignment is adding, not yet in sync (BrokerTopicMetrics ReassignmentBytesInPerSec).")
	descFetchRequests = newDesc("kafka_server_brokertopicmetrics_totalfetchrequests_total", "Partitions fetched by consumers, by topic (BrokerTopicMetrics TotalFetchRequestsPerSec).", "topic")

	descActiveController = newDesc("kafka_controller_kafkacontroller_activecontrollercount", "1 on the active controller (the Raft leader), else 0.")
	descOffline          = newDesc("kafka_controller_kafkacontroller_offlinepartitionscount", "Partitions without a leader (reported by the active controller, 0 elsewhere).")
	descGlobalPartitions = newDesc("kafka_controller_kafkacontroller_globalpartitioncount", "Partitions in the cluster (active controller only).")
	descGlobalTopics     = newDesc("kafka_controller_kafkacontroller_globaltopiccount", "Topics in the cluster (active controller only).")
	descActiveBrokers    = newDesc("kafka_controller_kafkacontroller_activebrokercount", "Registered unfenced brokers (active controller only).")
	descFencedBrokers    = newDesc("kafka_controller_kafkacontroller_fencedbrokercount", "Registered fenced brokers (active controller only).")
	descImbalance        = newDesc("kafka_controller_kafkacontroller_preferredreplicaimbalancecount", "Partitions not led by their preferred replica (active controller only).")

	descURP         = newDesc("kafka_server_replicamanager_underreplicatedpartitions", "Partitions led here whose ISR is smaller than their replica set.")
	descUnderMinISR = newDesc("kafka_server_replicamanager_underminisrpartitioncount", "Partitions led here whose ISR is below min.insync.replicas (acks=all refused).")
	descReassigning = newDesc("kafka_server_replicamanager_reassigningpartitions", "Partitions led here with a reassignment running (ReplicaManager ReassigningPartitions).")
	descAtMinISR    = newDesc("kafka_server_replicamanager_atminisrpartitioncount", "Partitions led here whose ISR is exactly min.insync.replicas.")
	descPartitions  = newDesc("kafka_server_replicamanager_partitioncount", "Replicas hosted here.")
	descLeaders     = newDesc("kafka_server_replicamanager_leadercount", "Partitions led here.")
	descMaxLag      = newDesc("kafka_server_replicafetchermanager_maxlag", "Largest follower lag of the replicas this broker follows, in records (ReplicaFetcherManager MaxLag).", "clientid")
	descFetcherLag  = newDesc("kafka_server_fetcherlagmetrics_consumerlag", "Follower lag per followed partition, in records (FetcherLagMetrics ConsumerLag).", "topic", "partition")

	descConnections = newDesc("kafka_server_socket_server_metrics_connection_count", "Open client connections, by listener (socket-server-metrics connection-count).", "listener")

	descRaftEpoch   = newDesc("kafka_server_raft_metrics_current_epoch", "Current Raft term of the metadata quorum (raft-metrics current-epoch).")
	descRaftHW      = newDesc("kafka_server_raft_metrics_high_watermark", "Raft commit index known here (raft-metrics high-watermark).")
	descRaftLEO     = newDesc("kafka_server_raft_metrics_log_end_offset", "Index of the last Raft log entry here (raft-metrics log-end-offset).")
	descRaftLeader  = newDesc("kafka_server_raft_metrics_current_leader", "Node id of the Raft leader, -1 when unknown (raft-metrics current-leader).")
	descRaftState   = newDesc("kafka_server_raft_metrics_current_state", "1 for this node's Raft role (raft-metrics current-state).", "state")
	descRaftApplied = newDesc("kafka_server_broker_metadata_metrics_last_applied_record_offset", "Raft index last applied to the metadata state here (broker-metadata-metrics last-applied-record-offset).")

	descLogSizeTopic      = newDesc("kafka_log_log_size", "Bytes of the logs hosted here, by topic (Log Size summed over partitions).", "topic")
	descLogSegmentsTopic  = newDesc("kafka_log_log_numlogsegments", "Segment files hosted here, by topic (Log NumLogSegments summed over partitions).", "topic")
	descLogSizePart       = newDesc("kafka_log_log_size", "Bytes of a hosted partition's log (Log Size).", "topic", "partition")
	descLogSegmentsPart   = newDesc("kafka_log_log_numlogsegments", "Segment files of a hosted partition (Log NumLogSegments).", "topic", "partition")
	descLogEndOffsetPart  = newDesc("kafka_log_log_logendoffset", "Log end offset of a hosted partition (Log LogEndOffset).", "topic", "partition")
	descLogStartOffsetPrt = newDesc("kafka_log_log_logstartoffset", "Log start offset of a hosted partition (Log LogStartOffset).", "topic", "partition")

	descGroupLagSum    = newDesc("kafka_consumergroup_lag_sum", "Records between a group's committed offsets and the high watermarks, by group and topic, over partitions hosted by the group's coordinator (kafka_exporter).", "consumergroup", "topic")
	descGroupOffsetSum = newDesc("kafka_consumergroup_current_offset_sum", "Sum of a group's committed offsets, by group and topic (kafka_exporter).", "consumergroup", "topic")
	descGroupLag       = newDesc("kafka_consumergroup_lag", "Records between a group's committed offset and the high watermark of one partition (kafka_exporter).", "consumergroup", "topic", "partition")
	descNumGroups      = newDesc("kafka_coordinator_group_groupmetadatamanager_numgroups", "Consumer groups this broker coordinates (GroupMetadataManager NumGroups).")
	descNumGroupsState = newDesc("kafka_coordinator_group_groupmetadatamanager_numgroupsbystate", "Consumer groups this broker coordinates, by state (GroupMetadataManager NumGroupsStable, NumGroupsEmpty, ... as one series per state).", "state")

	descFetchSessions     = newDesc("kafka_server_fetchsessioncache_numincrementalfetchsessions", "Incremental fetch sessions cached (FetchSessionCache NumIncrementalFetchSessions).")
	descFetchSessionParts = newDesc("kafka_server_fetchsessioncache_numincrementalfetchpartitionscached", "Partitions in cached fetch sessions (FetchSessionCache NumIncrementalFetchPartitionsCached).")
	descFetchSessionEvict = newDesc("kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total", "Fetch sessions evicted to make room (FetchSessionCache IncrementalFetchSessionEvictionsPerSec).")

	descCleanerMaxTime     = newDesc("kafka_log_logcleaner_max_clean_time_secs", "Longest of the cleaner threads' last passes, in seconds (LogCleaner max-clean-time-secs).")
	descCleanerRecopy      = newDesc("kafka_log_logcleaner_cleaner_recopy_percent", "Bytes the cleaner threads' last passes wrote back, in percent of what they read (LogCleaner cleaner-recopy-percent).")
	descCleanerBufferUse   = newDesc("kafka_log_logcleaner_max_buffer_utilization_percent", "Fullest offset map of the cleaner threads' last passes, in percent (LogCleaner max-buffer-utilization-percent).")
	descCleanerMaxDirty    = newDesc("kafka_log_logcleanermanager_max_dirty_percent", "Dirty ratio of the dirtiest compacted log when the cleaner last looked, in percent (LogCleanerManager max-dirty-percent).")
	descCleanerUncleanable = newDesc("kafka_log_logcleanermanager_uncleanable_partitions_count", "Compacted partitions the background cleaner skips after a failed pass (LogCleanerManager uncleanable-partitions-count).", "logDirectory")
	descCleanerSinceRun    = newDesc("kafka_log_logcleanermanager_time_since_last_run_ms", "Milliseconds since a cleaner thread last looked for a log to clean (LogCleanerManager time-since-last-run-ms).")

	descGroupMembers = newDesc("kafka_consumergroup_members", "Members of a group, reported by its coordinator (kafka_exporter).", "consumergroup")
)

// newDesc describes a series without constant labels.
func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// metricsCollector computes the state-derived series when Prometheus
// scrapes. It is an unchecked collector (Describe sends nothing): which label
// sets exist depends on metrics.partition.level.enable.
type metricsCollector struct {
	s *Server
	m *brokerMetrics
}

// Describe implements prometheus.Collector; see metricsCollector.
func (c *metricsCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector. It may run concurrently with
// itself and with anything the broker does; it only reads.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descBrokerState, prometheus.GaugeValue, float64(c.m.state.Load()))
	if !c.m.running() {
		return
	}
	st := c.s.meta.State()
	c.collectTopics(ch, st)
	c.collectController(ch, st)
	c.collectLeaders(ch, st)
	hws := c.collectReplicas(ch)
	c.collectGroups(ch, hws)
	for i, w := range c.s.wires {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(w.NumConns()), c.s.cfg.Listeners[i].Name)
	}
	c.collectRaft(ch, st)
	c.collectFetchSessions(ch)
	c.collectCleaner(ch)
	c.collectQuotas(ch) // quota_metrics.go
}

// collectCleaner emits the log cleaner's gauges (Kafka's LogCleaner and
// LogCleanerManager metrics).
func (c *metricsCollector) collectCleaner(ch chan<- prometheus.Metric) {
	st := c.s.replicas.CleanerStats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descCleanerMaxTime, st.MaxCleanTime.Seconds())
	gauge(descCleanerRecopy, 100*st.RecopyRatio)
	gauge(descCleanerBufferUse, 100*st.MaxBufferUtilization)
	gauge(descCleanerMaxDirty, 100*st.MaxDirtyRatio)
	gauge(descCleanerUncleanable, float64(st.Uncleanable), c.s.cfg.DataDir)
	gauge(descCleanerSinceRun, float64(st.SinceLastRun.Milliseconds()))
}

// collectTopics emits the BrokerTopicMetrics counters of existing topics
// and forgets those of deleted ones.
func (c *metricsCollector) collectTopics(ch chan<- prometheus.Metric, st *raftmeta.State) {
	c.m.topics.Range(func(k, v any) bool {
		name := k.(string)
		if st.Topics[name] == nil {
			c.m.topics.Delete(name)
			return true
		}
		tc := v.(*topicCounters)
		for _, x := range []struct {
			d *prometheus.Desc
			v uint64
		}{
			{descMessagesIn, tc.messagesIn.Load()}, {descBytesIn, tc.bytesIn.Load()}, {descBytesOut, tc.bytesOut.Load()},
			{descProduceReqs, tc.produceRequests.Load()}, {descFetchRequests, tc.fetchRequests.Load()},
		} {
			ch <- prometheus.MustNewConstMetric(x.d, prometheus.CounterValue, float64(x.v), name)
		}
		return true
	})
}

// collectController emits the KafkaController gauges: the cluster-wide ones
// only on the active controller (0 elsewhere), so that sums over brokers
// count each partition once, as with Kafka.
func (c *metricsCollector) collectController(ch chan<- prometheus.Metric, st *raftmeta.State) {
	var active, topics, offline, parts, imbalance, live, fenced float64
	if c.s.meta.IsController() {
		active, topics = 1, float64(len(st.Topics))
		for _, t := range st.Topics {
			for _, p := range t.Partitions {
				parts++
				if p.Leader < 0 {
					offline++
				}
				if len(p.Replicas) > 0 && p.Leader != p.Replicas[0] {
					imbalance++
				}
			}
		}
		for _, b := range st.Brokers {
			if b.Fenced {
				fenced++
			} else {
				live++
			}
		}
	}
	for _, x := range []struct {
		d *prometheus.Desc
		v float64
	}{
		{descActiveController, active}, {descOffline, offline}, {descGlobalPartitions, parts},
		{descGlobalTopics, topics}, {descActiveBrokers, live}, {descFencedBrokers, fenced}, {descImbalance, imbalance},
	} {
		ch <- prometheus.MustNewConstMetric(x.d, prometheus.GaugeValue, x.v)
	}
}

// collectLeaders emits the ReplicaManager gauges of partitions this broker
// leads according to the metadata (the committed ISR, as Kafka's are).
func (c *metricsCollector) collectLeaders(ch chan<- prometheus.Metric, st *raftmeta.State) {
	self := c.s.cfg.NodeID
	var leaders, urp, underMin, atMin, moving float64
	for _, t := range st.Topics {
		minISR := -1
		for _, p := range t.Partitions {
			if p.Leader != self {
				continue
			}
			if minISR < 0 {
				minISR = c.s.settingsFor(t).MinInsyncReplicas
			}
			leaders++
			if len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0 {
				moving++
			}
			if len(p.ISR) < len(p.Replicas) {
				urp++
			}
			switch {
			case len(p.ISR) < minISR:
				underMin++
			case len(p.ISR) == minISR:
				atMin++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descLeaders, prometheus.GaugeValue, leaders)
	ch <- prometheus.MustNewConstMetric(descURP, prometheus.GaugeValue, urp)
	ch <- prometheus.MustNewConstMetric(descUnderMinISR, prometheus.GaugeValue, underMin)
	ch <- prometheus.MustNewConstMetric(descAtMinISR, prometheus.GaugeValue, atMin)
	ch <- prometheus.MustNewConstMetric(descReassigning, prometheus.GaugeValue, moving)
}

// topicPart names a hosted partition in collectReplicas' result.
type topicPart struct {
	topic     string
	partition int32
}

// collectReplicas walks the hosted replicas once: replica and leader
// counts, follower lag, log sizes and segments (per topic, or per partition
// with metrics.partition.level.enable). It returns each hosted partition's
// high watermark, for group lag.
func (c *metricsCollector) collectReplicas(ch chan<- prometheus.Metric) map[topicPart]int64 {
	parts := c.s.replicas.Partitions()
	hws := make(map[topicPart]int64, len(parts))
	type agg struct{ size, segs float64 }
	byTopic := map[string]*agg{}
	var maxLag int64
	for _, p := range parts {
		hws[topicPart{p.Topic, p.Index}] = p.HighWatermark()
		size, segs := float64(p.Size()), float64(p.NumSegments())
		lag, following := p.FollowerLag()
		maxLag = max(maxLag, lag)
		if !c.m.partitions {
			a := byTopic[p.Topic]
			if a == nil {
				a = &agg{}
				byTopic[p.Topic] = a
			}
			a.size, a.segs = a.size+size, a.segs+segs
			continue
		}
		idx := strconv.Itoa(int(p.Index))
		ch <- prometheus.MustNewConstMetric(descLogSizePart, prometheus.GaugeValue, size, p.Topic, idx)
		ch <- prometheus.MustNewConstMetric(descLogSegmentsPart, prometheus.GaugeValue, segs, p.Topic, idx)
		ch <- prometheus.MustNewConstMetric(descLogEndOffsetPart, prometheus.GaugeValue, float64(p.LogEndOffset()), p.Topic, idx)
		ch <- prometheus.MustNewConstMetric(descLogStartOffsetPrt, prometheus.GaugeValue, float64(p.LogStartOffset()), p.Topic, idx)
		if following {
			ch <- prometheus.MustNewConstMetric(descFetcherLag, prometheus.GaugeValue, float64(lag), p.Topic, idx)
		}
	}
	for name, a := range byTopic {
		ch <- prometheus.MustNewConstMetric(descLogSizeTopic, prometheus.GaugeValue, a.size, name)
		ch <- prometheus.MustNewConstMetric(descLogSegmentsTopic, prometheus.GaugeValue, a.segs, name)
	}
	ch <- prometheus.MustNewConstMetric(descReplBytesIn, prometheus.CounterValue, float64(c.s.replicas.ReplicationBytesIn()))
	ch <- prometheus.MustNewConstMetric(descReassignIn, prometheus.CounterValue, float64(c.s.replicas.ReassignmentBytesIn()))
	ch <- prometheus.MustNewConstMetric(descPartitions, prometheus.GaugeValue, float64(len(parts)))
	ch <- prometheus.MustNewConstMetric(descMaxLag, prometheus.GaugeValue, float64(maxLag), "Replica")
	return hws
}

// collectGroups emits consumer-group lag for the groups this broker
// coordinates, over the partitions it hosts (hws): each group is reported
// by one broker, so sums over brokers count it once. A committed partition
// hosted elsewhere is left out (its high watermark is not known here).
func (c *metricsCollector) collectGroups(ch chan<- prometheus.Metric, hws map[topicPart]int64) {
	groups := c.s.groups.Committed()
	byState := map[string]float64{"Empty": 0, "PreparingRebalance": 0, "CompletingRebalance": 0, "Stable": 0}
	for _, g := range groups {
		byState[g.State]++
	}
	ch <- prometheus.MustNewConstMetric(descNumGroups, prometheus.GaugeValue, float64(len(groups)))
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(descNumGroupsState, prometheus.GaugeValue, n, state)
	}
	for _, g := range groups {
		ch <- prometheus.MustNewConstMetric(descGroupMembers, prometheus.GaugeValue, float64(g.Members), g.Group)
		for topic, offs := range g.Offsets {
			var lagSum, offSum float64
			known := false
			for part, off := range offs {
				hw, ok := hws[topicPart{topic, part}]
				if !ok {
					continue
				}
				known = true
				lag := float64(max(0, hw-off))
				lagSum += lag
				offSum += float64(off)
				if c.m.partitions {
					ch <- prometheus.MustNewConstMetric(descGroupLag, prometheus.GaugeValue, lag, g.Group, topic, strconv.Itoa(int(part)))
				}
			}
			if known {
				ch <- prometheus.MustNewConstMetric(descGroupLagSum, prometheus.GaugeValue, lagSum, g.Group, topic)
				ch <- prometheus.MustNewConstMetric(descGroupOffsetSum, prometheus.GaugeValue, offSum, g.Group, topic)
			}
		}
	}
}

// raftStates are the roles kafka_server_raft_metrics_current_state reports,
// one series each (1 for the current one), as Prometheus enums are.
var raftStates = []string{"Leader", "Follower", "Candidate", "Shutdown"}

// collectRaft emits the metadata quorum's positions as this node knows them.
func (c *metricsCollector) collectRaft(ch chan<- prometheus.Metric, st *raftmeta.State) {
	pr := c.s.meta.RaftProgress()
	ch <- prometheus.MustNewConstMetric(descRaftEpoch, prometheus.GaugeValue, float64(pr.Term))
	ch <- prometheus.MustNewConstMetric(descRaftHW, prometheus.GaugeValue, float64(pr.CommitIndex))
	ch <- prometheus.MustNewConstMetric(descRaftLEO, prometheus.GaugeValue, float64(pr.LastIndex))
	ch <- prometheus.MustNewConstMetric(descRaftApplied, prometheus.GaugeValue, float64(pr.AppliedIndex))
	ch <- prometheus.MustNewConstMetric(descRaftLeader, prometheus.GaugeValue, float64(st.ControllerID))
	cur := c.s.meta.RaftState()
	for _, s := range raftStates {
		v := 0.0
		if s == cur {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, v, s)
	}
}

// collectFetchSessions emits the incremental fetch session cache's size.
func (c *metricsCollector) collectFetchSessions(ch chan<- prometheus.Metric) {
	fc := c.s.sessions
	fc.mu.Lock()
	sessions, parts, evictions := len(fc.sessions), fc.numPartitions, fc.evictions
	fc.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(descFetchSessions, prometheus.GaugeValue, float64(sessions))
	ch <- prometheus.MustNewConstMetric(descFetchSessionParts, prometheus.GaugeValue, float64(parts))
	ch <- prometheus.MustNewConstMetric(descFetchSessionEvict, prometheus.CounterValue, float64(evictions))
}
