package postgres

// ListenerPID returns the backend pid of l's LISTEN connection, 0 while it
// has none, so that tests can cut the connection.
func ListenerPID(l *FeedListener) uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid
}
