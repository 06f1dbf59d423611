package storage

// NumSegments is the number of segment files of the log, the active one
// included (Kafka's NumLogSegments gauge). It takes the read lock briefly;
// metrics call it at scrape time, never on the append path.
func (l *Log) NumSegments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}
